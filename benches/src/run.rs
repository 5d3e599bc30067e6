//! Running a load: closed loop (as fast as the connections go) or open loop
//! (a constant arrival rate, latency from the intended send time).

use crate::client::Connection;
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
    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + duration;
    let schedule = match mode {
        Mode::Open { rate } => Some(OpenLoop::new(start, rate)),
        Mode::Closed => None,
    };
    let total = schedule.map_or(u64::MAX, |s| s.count(duration));
    let next = Arc::new(AtomicU64::new(0));
    // Open loop: a thread releases each request at its intended time.
    // Tokio's timers tick in milliseconds, which alone would add up to a
    // millisecond to every latency measured from the intended time.
    let due = schedule.map(|s| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || pace(s, total, &tx));
        Arc::new(tokio::sync::Mutex::new(rx))
    });
    let workers: Vec<_> = (0..connections.max(1))
        .map(|worker| {
            let (corpus, next, due) = (Arc::clone(&corpus), Arc::clone(&next), due.clone());
            tokio::spawn(async move {
                let mut mix = Mix::new(corpus, beacon_percent, worker as u64 + 1);
                let mut recorder = Recorder::new();
                let (mut sent, mut ok, mut errors) = (0u64, 0u64, 0u64);
                let mut connection = None;
                tokio::time::sleep_until(start.into()).await;
                loop {
                    let began = match (&due, schedule) {
                        (Some(due), Some(s)) => match due.lock().await.recv().await {
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
                        connection = Connection::open(addr).await.ok();
                    }
                    let Some(conn) = connection.as_mut() else {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    sent += 1;
                    match conn.send(mix.next_request()).await {
                        Ok(status) if status.is_success() => ok += 1,
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

/// Hands out request numbers as their intended times come: sleeps to just
/// before the next one (the OS sleeps to a few tens of microseconds), then
/// releases every request that is due.
fn pace(schedule: OpenLoop, total: u64, due: &tokio::sync::mpsc::UnboundedSender<u64>) {
    let mut i = 0;
    while i < total {
        let at = schedule.intended(i);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        let now = Instant::now();
        while i < total && schedule.intended(i) <= now {
            if due.send(i).is_err() {
                return;
            }
            i += 1;
        }
    }
}
