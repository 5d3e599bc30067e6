//! What the spool knows of itself, and how every start reconciles it.
//!
//! Two sources, each the truth for one thing: the segment files are the
//! truth for what was written (their numbers and lengths), and the `state`
//! file for what was shipped (the cursor, the batch being inserted, and the
//! spool's identity). A start reads both and derives the rest:
//!
//! - segments wholly before the cursor were shipped: they are deleted (a
//!   crash between saving the cursor and deleting them leaves them behind);
//! - the writer's first segment is past every segment on disk *and* past the
//!   cursor, so new rows can never land below what the shipper considers
//!   done (after two restarts without traffic, no segment is left on disk but
//!   the cursor still says where shipping stands);
//! - everything on disk is committed: segments of earlier runs are sealed.
//!
//! The identity is 128 random bits, created with the spool and kept for its
//! life: it is mixed into every deduplication token, so two spools (two
//! collectors, or a spool reset after a loss) that ship the same byte range
//! never share a token and are never mistaken for a resend.
//!
//! The state is saved in place, in one of two fixed slots of a file written
//! whole when the spool is created, alternately, each slot with a sequence
//! number and a checksum: saving needs no new disk space, so a full disk
//! never stops the shipping that frees it, and a torn save leaves the other
//! slot to read.

use super::log::{self, Position};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

pub const STATE_FILE: &str = "state";
/// The file of earlier versions: the cursor alone, as JSON. Adopted, then removed.
const LEGACY_CURSOR_FILE: &str = "cursor.json";
/// Each slot: magic, sequence (u64), length (u32), CRC-32 (u32), the JSON.
const SLOT: usize = 4096;
const SLOT_MAGIC: [u8; 4] = *b"MSS1";
const SLOT_HEADER: usize = 20;

/// Where shipping stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The spool's identity, in hex; empty in files of earlier versions.
    #[serde(default)]
    pub id: String,
    /// Everything before this is in ClickHouse (or quarantined).
    pub position: Position,
    /// A batch being inserted: its end and its deduplication token.
    pub pending: Option<(Position, String)>,
}

impl State {
    /// A new state with a new identity.
    pub fn new() -> std::io::Result<State> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(std::io::Error::other)?;
        Ok(State {
            id: hex::encode(id),
            ..State::default()
        })
    }

    /// Reads the state of the spool in `dir`: `None` when it has none yet.
    pub fn load(dir: &Path) -> std::io::Result<Option<State>> {
        match StateFile::open(dir) {
            Ok((_, state)) => Ok(state),
            Err(error) => Err(error),
        }
    }

    /// Saves the state of the spool in `dir` (tests and tools; the shipper
    /// keeps its [`StateFile`] open).
    pub fn store(&self, dir: &Path) -> std::io::Result<()> {
        StateFile::open(dir)?.0.store(self)
    }
}

/// The open state file: the shipper's, once the spool is open.
#[derive(Debug)]
pub struct StateFile {
    file: File,
    /// The sequence number of the last save.
    sequence: u64,
}

impl StateFile {
    /// Opens the file, creating it whole when missing, and reads the newest
    /// valid slot (or the cursor file of earlier versions).
    pub fn open(dir: &Path) -> std::io::Result<(StateFile, Option<State>)> {
        let path = dir.join(STATE_FILE);
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                // Written whole now: later saves only overwrite it.
                let tmp = dir.join(format!("{STATE_FILE}.tmp"));
                let mut new = File::create(&tmp)?;
                new.write_all(&[0; 2 * SLOT])?;
                new.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                File::open(dir)?.sync_all()?;
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)?
            }
            Err(error) => return Err(error),
        };
        let mut bytes = Vec::with_capacity(2 * SLOT);
        file.read_to_end(&mut bytes)?;
        let newest = bytes
            .chunks(SLOT)
            .filter_map(read_slot)
            .max_by_key(|(sequence, _)| *sequence);
        let (sequence, state) = match newest {
            Some((sequence, state)) => (sequence, Some(state)),
            None if bytes.iter().any(|b| *b != 0) => {
                return Err(std::io::Error::other("no valid slot in the spool state"));
            }
            None => match std::fs::read(dir.join(LEGACY_CURSOR_FILE)) {
                Ok(legacy) => (
                    0,
                    Some(serde_json::from_slice(&legacy).map_err(std::io::Error::other)?),
                ),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => (0, None),
                Err(error) => return Err(error),
            },
        };
        Ok((StateFile { file, sequence }, state))
    }

    /// Saves `state` durably, in the slot the last save did not use.
    pub fn store(&mut self, state: &State) -> std::io::Result<()> {
        let json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
        if SLOT_HEADER + json.len() > SLOT {
            return Err(std::io::Error::other("spool state too large for its slot"));
        }
        let sequence = self.sequence + 1;
        let mut slot = Vec::with_capacity(SLOT);
        slot.extend_from_slice(&SLOT_MAGIC);
        slot.extend_from_slice(&sequence.to_le_bytes());
        slot.extend_from_slice(&u32::try_from(json.len()).unwrap_or(0).to_le_bytes());
        slot.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
        slot.extend_from_slice(&json);
        slot.resize(SLOT, 0);
        let offset = (sequence % 2) * SLOT as u64;
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(&slot)?;
        self.file.sync_data()?;
        self.sequence = sequence;
        Ok(())
    }
}

/// A slot's sequence number and state, when it is whole.
fn read_slot(slot: &[u8]) -> Option<(u64, State)> {
    if slot.len() < SLOT_HEADER || slot[..4] != SLOT_MAGIC {
        return None;
    }
    let sequence = u64::from_le_bytes(slot[4..12].try_into().ok()?);
    let len = u32::from_le_bytes(slot[12..16].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(slot[16..20].try_into().ok()?);
    let json = slot.get(SLOT_HEADER..SLOT_HEADER + len)?;
    if crc32fast::hash(json) != crc {
        return None;
    }
    Some((sequence, serde_json::from_slice(json).ok()?))
}

/// The spool as a start finds it, reconciled.
#[derive(Debug)]
pub struct Reconciled {
    pub state: State,
    /// Where the shipper saves the state from now on.
    pub file: StateFile,
    /// The segments left on disk, in order.
    pub segments: Vec<u64>,
    /// The writer's first segment: past everything written or shipped.
    pub first_segment: u64,
}

/// Reads the state and the segments of the spool in `dir` and makes them agree.
pub fn reconcile(dir: &Path) -> std::io::Result<Reconciled> {
    let (mut file, state) = match StateFile::open(dir) {
        Ok(opened) => opened,
        Err(error) => {
            // Shipping again from the oldest segment may store rows twice;
            // starting past them would lose them. The file is kept aside.
            tracing::error!(%error, "spool state unreadable, shipping from the oldest segment");
            std::fs::rename(
                dir.join(STATE_FILE),
                dir.join(format!("{STATE_FILE}.unreadable")),
            )?;
            StateFile::open(dir)?
        }
    };
    let mut state = match state {
        Some(state) => state,
        None => State::new()?,
    };
    if state.id.is_empty() {
        state.id = State::new()?.id;
    }
    // Durable before anything is shipped under this identity.
    file.store(&state)?;
    let legacy = dir.join(LEGACY_CURSOR_FILE);
    if legacy.exists() {
        std::fs::remove_file(legacy)?;
    }
    let mut segments = log::segments(dir)?;
    segments.retain(|segment| {
        let shipped = *segment < state.position.segment;
        if shipped {
            let _ = std::fs::remove_file(log::segment_path(dir, *segment));
        }
        !shipped
    });
    let past = |at: Position| at.segment + u64::from(at.offset > 0);
    let first_segment = [
        segments.last().map_or(0, |s| s + 1),
        past(state.position),
        state.pending.as_ref().map_or(0, |(end, _)| past(*end)),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    Ok(Reconciled {
        state,
        file,
        segments,
        first_segment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mesure-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    fn at(segment: u64, offset: u64) -> Position {
        Position { segment, offset }
    }

    #[test]
    fn a_new_spool_gets_an_identity_it_keeps() {
        let dir = dir("identity");
        let first = reconcile(&dir).expect("reconcile");
        assert_eq!(first.state.id.len(), 32);
        assert_eq!(first.first_segment, 0);
        let again = reconcile(&dir).expect("reconcile");
        assert_eq!(again.state.id, first.state.id);
    }

    #[test]
    fn the_writer_starts_past_the_cursor_when_no_segment_is_left() {
        let dir = dir("past-cursor");
        State {
            position: at(7, 0),
            ..State::new().expect("state")
        }
        .store(&dir)
        .expect("store");
        assert_eq!(reconcile(&dir).expect("reconcile").first_segment, 7);
        State {
            position: at(7, 120),
            ..State::new().expect("state")
        }
        .store(&dir)
        .expect("store");
        assert_eq!(reconcile(&dir).expect("reconcile").first_segment, 8);
    }

    #[test]
    fn shipped_segments_are_deleted_and_the_rest_kept() {
        let dir = dir("shipped");
        for segment in [2, 3, 4] {
            std::fs::write(log::segment_path(&dir, segment), b"").expect("segment");
        }
        State {
            position: at(3, 10),
            ..State::new().expect("state")
        }
        .store(&dir)
        .expect("store");
        let reconciled = reconcile(&dir).expect("reconcile");
        assert_eq!(reconciled.segments, [3, 4]);
        assert_eq!(reconciled.first_segment, 5);
        assert!(!log::segment_path(&dir, 2).exists());
    }

    #[test]
    fn saves_alternate_slots_and_a_torn_one_leaves_the_other() {
        let dir = dir("slots");
        let (mut file, none) = StateFile::open(&dir).expect("open");
        assert_eq!(none, None);
        let mut state = State::new().expect("state");
        for segment in 1..=3 {
            state.position = at(segment, 0);
            file.store(&state).expect("store");
        }
        let len = std::fs::metadata(dir.join(STATE_FILE)).expect("len").len();
        assert_eq!(len, 2 * SLOT as u64, "saved in place");
        assert_eq!(
            State::load(&dir).expect("load").map(|s| s.position),
            Some(at(3, 0))
        );
        // The last save (sequence 3, slot 1) torn: the one before is read.
        let mut bytes = std::fs::read(dir.join(STATE_FILE)).expect("read");
        bytes[SLOT + SLOT_HEADER + 2] ^= 0xff;
        std::fs::write(dir.join(STATE_FILE), &bytes).expect("write");
        assert_eq!(
            State::load(&dir).expect("load").map(|s| s.position),
            Some(at(2, 0))
        );
    }

    #[test]
    fn the_cursor_file_of_earlier_versions_is_adopted() {
        let dir = dir("legacy");
        std::fs::write(
            dir.join(LEGACY_CURSOR_FILE),
            br#"{"position":{"segment":4,"offset":0},"pending":null}"#,
        )
        .expect("legacy");
        let reconciled = reconcile(&dir).expect("reconcile");
        assert_eq!(reconciled.state.position, at(4, 0));
        assert_eq!(reconciled.state.id.len(), 32);
        assert!(!dir.join(LEGACY_CURSOR_FILE).exists());
        assert_eq!(
            State::load(&dir).expect("load").map(|s| s.position),
            Some(at(4, 0))
        );
    }
}
