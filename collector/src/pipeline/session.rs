//! Visits: a visitor's hits belong to one session until 30 minutes pass
//! without a hit. The session's acquisition (referrer, channel, campaign) is
//! decided by its first hit and stamped on every later one, with the hit's
//! number in the visit and the seconds since the visit's last hit: counted
//! per hit, they add up to visits, bounces and durations in the rollups.
//!
//! State lives in this replica's memory: with several collector replicas,
//! the load balancer must send a client address to the same replica (hash on
//! the source address), which keeps a visitor on one replica.

use super::referrer::Acquisition;
use foldhash::HashMap;
use foldhash::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 64;
/// Distinct acquisitions shared between sessions at most; most visits share
/// a few (direct, the main search engines), so sessions hold a pointer only.
const MAX_INTERNED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: u64,
    /// First hit, milliseconds since the epoch.
    pub start_ms: i64,
    pub acquisition: Arc<Acquisition>,
    /// This hit's number in the visit: 1 for the first.
    pub hit: u16,
    /// Seconds since the visit's latest hit (0 for the first): over a visit,
    /// they add up to its duration.
    pub gap_s: u32,
}

/// 40 bytes a visit with its key: times in seconds, the acquisition shared.
#[derive(Debug)]
struct State {
    id: u64,
    acquisition: Arc<Acquisition>,
    start_s: u32,
    last_s: u32,
    hits: u16,
}

impl State {
    fn info(&self, gap_s: u32) -> SessionInfo {
        SessionInfo {
            id: self.id,
            start_ms: i64::from(self.start_s) * 1000,
            acquisition: Arc::clone(&self.acquisition),
            hit: self.hits,
            gap_s,
        }
    }
}

fn seconds(ms: i64) -> u32 {
    u32::try_from(ms.div_euclid(1000)).unwrap_or(0)
}

#[derive(Debug)]
struct Shard {
    map: HashMap<u64, State>,
    /// No session here can expire before this second. A full shard is not
    /// scanned again before then: new visitors past the bound cost nothing.
    next_expiry_s: u32,
}

impl Shard {
    /// Forgets the sessions idle past the timeout; notes when the next may.
    fn sweep(&mut self, now_s: u32, timeout: u32) {
        let mut oldest = u32::MAX;
        self.map.retain(|_, s| {
            let keep = now_s.saturating_sub(s.last_s) < timeout;
            if keep {
                oldest = oldest.min(s.last_s);
            }
            keep
        });
        self.next_expiry_s = oldest.saturating_add(timeout);
    }
}

#[derive(Debug)]
pub struct Sessions {
    shards: Vec<Mutex<Shard>>,
    interned: Mutex<HashSet<Arc<Acquisition>>>,
    timeout_s: u32,
    max_per_shard: usize,
    /// New visits not held since last asked: the table was full.
    untracked: AtomicU64,
}

impl Sessions {
    /// The tables are allocated whole at start and never grow: memory is
    /// known from `max_sessions` (hashbrown rounds each shard to a power of
    /// two, so 900,000 fits tables of 16,384: about 43 MB).
    pub fn new(timeout_minutes: u32, max_sessions: usize) -> Sessions {
        let max_per_shard = (max_sessions / SHARDS).max(1);
        Sessions {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::with_capacity_and_hasher(max_per_shard, Default::default()),
                        next_expiry_s: 0,
                    })
                })
                .collect(),
            interned: Mutex::new(HashSet::default()),
            timeout_s: timeout_minutes.saturating_mul(60),
            max_per_shard,
            untracked: AtomicU64::new(0),
        }
    }

    /// The session of this hit; `acquisition` is called only for a new one.
    pub fn assign(
        &self,
        visitor_id: u64,
        now_ms: i64,
        acquisition: impl FnOnce() -> Acquisition,
    ) -> SessionInfo {
        let shard = &self.shards[usize::try_from(visitor_id % SHARDS as u64).unwrap_or(0)];
        let mut shard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now_s = seconds(now_ms);
        if let Some(state) = shard.map.get_mut(&visitor_id)
            && now_s.saturating_sub(state.last_s) < self.timeout_s
        {
            // A late hit adds nothing to the duration.
            let gap_s = now_s.saturating_sub(state.last_s);
            state.last_s = state.last_s.max(now_s);
            state.hits = state.hits.saturating_add(1);
            return state.info(gap_s);
        }
        let state = State {
            id: session_id(visitor_id, now_ms),
            acquisition: self.intern(acquisition()),
            start_s: now_s,
            last_s: now_s,
            hits: 1,
        };
        let info = state.info(0);
        let known = shard.map.contains_key(&visitor_id);
        if !known && shard.map.len() >= self.max_per_shard && now_s >= shard.next_expiry_s {
            shard.sweep(now_s, self.timeout_s);
        }
        if known || shard.map.len() < self.max_per_shard {
            // A late hit can expire before the rest.
            shard.next_expiry_s = shard
                .next_expiry_s
                .min(now_s.saturating_add(self.timeout_s));
            shard.map.insert(visitor_id, state);
        } else {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        }
        info
    }

    /// The shared copy of an acquisition. The table is bounded: when full it
    /// starts again, which costs memory only, never correctness.
    fn intern(&self, acquisition: Acquisition) -> Arc<Acquisition> {
        let mut table = self
            .interned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(shared) = table.get(&acquisition) {
            return Arc::clone(shared);
        }
        if table.len() >= MAX_INTERNED {
            table.clear();
        }
        let shared = Arc::new(acquisition);
        table.insert(Arc::clone(&shared));
        shared
    }

    /// New visits not held since the last call, the table being full.
    pub fn take_untracked(&self) -> u64 {
        self.untracked.swap(0, Ordering::Relaxed)
    }

    /// Forgets sessions idle past the timeout. Returns how many remain.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let (timeout, now_s) = (self.timeout_s, seconds(now_ms));
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                shard.sweep(now_s, timeout);
                shard.map.len()
            })
            .sum()
    }
}

/// Derived, not random: the same visitor starting at the same millisecond
/// gets the same id on replay, and the id reveals nothing the visitor id does not.
fn session_id(visitor_id: u64, start_ms: i64) -> u64 {
    // splitmix64 finaliser over both inputs.
    let mut z = visitor_id ^ (start_ms as u64).rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Channel;

    const MINUTE: i64 = 60_000;

    /// What makes two hits one visit: its id, its start, its acquisition.
    fn visit(info: &SessionInfo) -> (u64, i64, Arc<Acquisition>) {
        (info.id, info.start_ms, Arc::clone(&info.acquisition))
    }

    fn acquisition(channel: Channel) -> Acquisition {
        Acquisition {
            channel,
            ..Acquisition::default()
        }
    }

    #[test]
    fn hits_within_30_minutes_share_a_session_and_its_acquisition() {
        let sessions = Sessions::new(30, 1000);
        let first = sessions.assign(1, 0, || acquisition(Channel::Search));
        let second = sessions.assign(1, 29 * MINUTE, || acquisition(Channel::Direct));
        let third = sessions.assign(1, 58 * MINUTE, || acquisition(Channel::Direct));
        assert_eq!(visit(&first), visit(&second));
        assert_eq!(
            visit(&first),
            visit(&third),
            "the timeout counts from the last hit"
        );
        assert_eq!(third.acquisition.channel, Channel::Search);
        let later = sessions.assign(1, 88 * MINUTE, || acquisition(Channel::Social));
        assert_ne!(later.id, first.id);
        assert_eq!(later.start_ms, 88 * MINUTE);
        assert_eq!(later.acquisition.channel, Channel::Social);
    }

    #[test]
    fn hits_are_numbered_and_their_gaps_add_up_to_the_duration() {
        let sessions = Sessions::new(30, 1000);
        let mut gaps = 0;
        for (i, at) in [0, 12_345, 70_000, 69_000, 600_900].iter().enumerate() {
            let info = sessions.assign(1, *at, Acquisition::default);
            assert_eq!(usize::from(info.hit), i + 1);
            gaps += info.gap_s;
        }
        assert_eq!(gaps, 600, "the last second minus the first");
        let next = sessions.assign(1, 600_900 + 31 * MINUTE, Acquisition::default);
        assert_eq!((next.hit, next.gap_s), (1, 0), "a new visit");
    }

    #[test]
    fn visitors_have_their_own_sessions() {
        let sessions = Sessions::new(30, 1000);
        let a = sessions.assign(1, 0, Acquisition::default);
        let b = sessions.assign(2, 0, Acquisition::default);
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn memory_is_bounded_and_swept() {
        let sessions = Sessions::new(30, 64);
        for visitor in 0..10_000 {
            sessions.assign(visitor, 0, Acquisition::default);
        }
        assert!(sessions.sweep(0) <= 64);
        assert_eq!(sessions.sweep(31 * MINUTE), 0);
    }

    #[test]
    fn a_full_table_takes_new_visitors_once_sessions_expire() {
        // One session a shard: visitors 0 and 64 share shard 0.
        let sessions = Sessions::new(30, SHARDS);
        let first = sessions.assign(0, 0, || acquisition(Channel::Search));
        for minute in [1, 10, 29] {
            let other = sessions.assign(64, minute * MINUTE, || acquisition(Channel::Social));
            assert_ne!(other.id, first.id);
            assert_eq!(
                visit(&sessions.assign(0, minute * MINUTE, Acquisition::default)),
                visit(&first),
                "a full shard keeps its sessions"
            );
        }
        // Visitor 0's last hit was at 29 minutes: its session ends at 59.
        let not_yet = sessions.assign(64, 58 * MINUTE, || acquisition(Channel::Social));
        assert_ne!(
            sessions
                .assign(64, 58 * MINUTE + 1000, || acquisition(Channel::Direct))
                .id,
            not_yet.id,
            "not stored while the shard is full"
        );
        let stored = sessions.assign(64, 59 * MINUTE, || acquisition(Channel::Social));
        assert_eq!(
            visit(&sessions.assign(64, 60 * MINUTE, || acquisition(Channel::Direct))),
            visit(&stored),
            "stored once the old session expired"
        );
        assert_eq!(stored.acquisition.channel, Channel::Social);
        assert_eq!(
            sessions.take_untracked(),
            5,
            "minutes 1, 10, 29, 58 and 58:01"
        );
        assert_eq!(sessions.take_untracked(), 0);
    }

    #[test]
    fn sessions_with_the_same_acquisition_share_it() {
        let sessions = Sessions::new(30, 1000);
        let a = sessions.assign(1, 0, || acquisition(Channel::Search));
        let b = sessions.assign(2, 0, || acquisition(Channel::Search));
        let c = sessions.assign(3, 0, || acquisition(Channel::Social));
        assert!(Arc::ptr_eq(&a.acquisition, &b.acquisition));
        assert!(!Arc::ptr_eq(&a.acquisition, &c.acquisition));
        assert_eq!(c.acquisition.channel, Channel::Social);
        for visitor in 0..(MAX_INTERNED as u64 + 10) {
            let host = format!("h{visitor}.example");
            let got = sessions.assign(100 + visitor, 0, || Acquisition {
                referrer_host: host.as_str().into(),
                ..Acquisition::default()
            });
            assert_eq!(
                got.acquisition.referrer_host,
                host.into(),
                "a full table never mixes them up"
            );
        }
    }

    #[test]
    fn late_hits_do_not_move_the_session_back() {
        let sessions = Sessions::new(30, 1000);
        let first = sessions.assign(1, 10 * MINUTE, Acquisition::default);
        assert_eq!(
            visit(&sessions.assign(1, 5 * MINUTE, Acquisition::default)),
            visit(&first)
        );
        assert_eq!(
            visit(&sessions.assign(1, 39 * MINUTE, Acquisition::default)),
            visit(&first)
        );
    }
}
