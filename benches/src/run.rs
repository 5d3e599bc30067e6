//! Running a load: closed loop (as fast as the connections go) or open loop
//! (a constant arrival rate, latency from the intended send time).

use crate::client::RawConnection;
use crate::mix::{Corpus, Mix};
use crate::record::{Recorder, Summary};
use crate::schedule::OpenLoop;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Closed,
    Open { rate: f64 },
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub latency: Summary,
}

/// Sends the mix to `addr` for `duration` over `connections` connections.
pub async fn run(
    addr: SocketAddr,
    mode: Mode,
    corpus: Arc<Corpus>,
    beacon_percent: u8,
    duration: Duration,
    connections: usize,
) -> Report {
    let mix = move |worker: usize| Mix::new(Arc::clone(&corpus), beacon_percent, worker as u64 + 1);
    run_with(addr, mode, mix, None, duration, connections).await
}

/// As [`run`], each connection with the mix `mix(connection)` makes, and in
/// closed loop `limit` requests at most.
pub async fn run_with(
    addr: SocketAddr,
    mode: Mode,
    mix: impl Fn(usize) -> Mix,
    limit: Option<u64>,
    duration: Duration,
    connections: usize,
) -> Report {
    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + duration;
    let schedule = match mode {
        Mode::Open { rate } => Some(OpenLoop::new(start, rate)),
        Mode::Closed => None,
    };
    let total = schedule.map_or(limit.unwrap_or(u64::MAX), |s| s.count(duration));
    let next = Arc::new(AtomicU64::new(0));
    let connections = connections.max(1);
    // Open loop: a thread releases each request at its intended time, to
    // the connections in turn (as wrk2 does: each has its share of the
    // rate). Tokio's timers tick in milliseconds, which alone would add up
    // to a millisecond to every latency measured from the intended time.
    let mut due: Vec<_> = match schedule {
        Some(s) => {
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..connections)
                .map(|_| tokio::sync::mpsc::unbounded_channel())
                .unzip();
            std::thread::spawn(move || pace(s, total, &txs));
            rxs.into_iter().map(Some).collect()
        }
        None => (0..connections).map(|_| None).collect(),
    };
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let next = Arc::clone(&next);
            let mut due = due[worker].take();
            let mut mix = mix(worker);
            tokio::spawn(async move {
                let mut recorder = Recorder::new();
                let (mut sent, mut ok, mut errors) = (0u64, 0u64, 0u64);
                let mut connection = None;
                tokio::time::sleep_until(start.into()).await;
                loop {
                    let began = match (&mut due, schedule) {
                        (Some(due), Some(s)) => match due.recv().await {
                            Some(i) => s.intended(i),
                            None => break,
                        },
                        _ => {
                            if next.fetch_add(1, Ordering::Relaxed) >= total {
                                break;
                            }
                            Instant::now()
                        }
                    };
                    if Instant::now() >= deadline {
                        break;
                    }
                    if connection.is_none() {
                        connection = RawConnection::open(addr).await.ok();
                    }
                    let Some(conn) = connection.as_mut() else {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    sent += 1;
                    match conn.send(&mix.next_raw()).await {
                        Ok(status) if (200..300).contains(&status) => ok += 1,
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            connection = None;
                        }
                    }
                    recorder.record(Instant::now().saturating_duration_since(began));
                }
                (recorder, sent, ok, errors)
            })
        })
        .collect();
    let mut recorder = Recorder::new();
    let (mut sent, mut ok, mut errors) = (0, 0, 0);
    for worker in workers {
        if let Ok((r, s, o, e)) = worker.await {
            recorder.merge(&r);
            sent += s;
            ok += o;
            errors += e;
        }
    }
    let seconds = Instant::now()
        .saturating_duration_since(start)
        .as_secs_f64()
        .min(duration.as_secs_f64())
        .max(1e-9);
    Report {
        sent,
        ok,
        errors,
        seconds,
        per_second: ok as f64 / seconds,
        latency: recorder.summary(),
    }
}

/// Hands out request numbers as their intended times come, request `i` to
/// connection `i % n`: sleeps to just before the next one (the OS sleeps to
/// a few tens of microseconds), then releases every request that is due.
fn pace(schedule: OpenLoop, total: u64, due: &[tokio::sync::mpsc::UnboundedSender<u64>]) {
    let mut i = 0;
    while i < total {
        let at = schedule.intended(i);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        let now = Instant::now();
        while i < total && schedule.intended(i) <= now {
            // A connection past the deadline has stopped taking requests.
            let _ = due[(i % due.len() as u64) as usize].send(i);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn bare() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(crate::bare::serve(listener));
        addr
    }

    fn corpus() -> Arc<Corpus> {
        Arc::new(Corpus {
            user_agents: vec!["Mozilla/5.0 A".into()],
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_sends_the_scheduled_requests() {
        let addr = bare().await;
        let duration = Duration::from_secs(1);
        let rate = 400.0;
        let report = run(addr, Mode::Open { rate }, corpus(), 20, duration, 8).await;
        let scheduled = OpenLoop::new(Instant::now(), rate).count(duration);
        // A request whose turn comes after the deadline is not sent; a busy
        // machine can lose the last few that way, never gain any.
        assert!(report.sent <= scheduled, "{} > {scheduled}", report.sent);
        assert!(
            report.sent >= scheduled * 9 / 10,
            "{} of {scheduled}",
            report.sent
        );
        assert_eq!(report.ok, report.sent);
        assert_eq!(report.errors, 0);
        assert_eq!(report.latency.count, report.sent);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_loop_stops_at_the_deadline() {
        let addr = bare().await;
        let report = run(
            addr,
            Mode::Closed,
            corpus(),
            0,
            Duration::from_millis(300),
            4,
        )
        .await;
        assert!(report.ok > 0);
        assert_eq!(report.errors, 0);
        assert_eq!(report.latency.count, report.sent);
    }
}
