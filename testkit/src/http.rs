//! A raw HTTP/1.1 client and a steady load generator, for tests that talk
//! to a collector over a real socket.

use clickhouse::Client;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// Every value of a header sent several times (`Set-Cookie`).
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends raw bytes as one request (the connection is closed after it) and
/// reads the answer. Blocking: call from `spawn_blocking` in async tests.
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // The server may answer and close before reading everything (too large).
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer { status, head, body }
}

/// A browser-like request: the headers every browser sends, plus `extra`.
pub fn browser_request(method: &str, target: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nHost: collector.test\r\nConnection: close\r\n");
    let has = |name: &str| extra.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("user-agent") {
        out.push_str("User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n");
    }
    if !has("accept-language") {
        out.push_str("Accept-Language: fr-FR,fr;q=0.9\r\n");
    }
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub async fn send(addr: SocketAddr, request: Vec<u8>) -> Answer {
    tokio::task::spawn_blocking(move || raw_request(addr, &request))
        .await
        .expect("request task")
}

/// Steady load for fault tests: pageview beacons with unique paths
/// (`/h/<n>`), sent one after another from a thread, at most `per_second`.
#[derive(Debug)]
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<LoadReport>,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    /// Ids answered 202: accepted.
    pub accepted: Vec<u64>,
    /// Answers that were not 202, by status (0: no answer).
    pub refused: std::collections::BTreeMap<u16, u64>,
}

impl Load {
    pub fn start(addr: SocketAddr, per_second: u32) -> Load {
        Self::start_at(move || addr, per_second)
    }

    /// `addr` is asked before each request: the target may move (restarts).
    pub fn start_at(addr: impl Fn() -> SocketAddr + Send + 'static, per_second: u32) -> Load {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut report = LoadReport::default();
            let period = Duration::from_secs(1) / per_second.max(1);
            let mut next = std::time::Instant::now();
            let mut id = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                id += 1;
                let body =
                    format!(r#"{{"s":"prefecture","u":"https://www.prefecture.gouv.fr/h/{id}"}}"#);
                let request = browser_request(
                    "POST",
                    "/api/event",
                    &[
                        ("Content-Type", "application/json"),
                        (
                            "X-Forwarded-For",
                            &format!("193.50.{}.{}", (id / 250) % 250, id % 250),
                        ),
                    ],
                    body.as_bytes(),
                );
                let answer = try_request(addr(), &request);
                match answer {
                    Some(a) if a.status == 202 => report.accepted.push(id),
                    Some(a) => *report.refused.entry(a.status).or_default() += 1,
                    None => *report.refused.entry(0).or_default() += 1,
                }
                next += period;
                let now = std::time::Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            report
        });
        Load { stop, thread }
    }

    pub fn stop(self) -> LoadReport {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("load thread")
    }
}

/// Like [`raw_request`], but `None` when the server cannot be reached.
pub fn try_request(addr: SocketAddr, request: &[u8]) -> Option<Answer> {
    let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    drop(stream);
    let answer = raw_request(addr, request);
    (answer.status != 0).then_some(answer)
}

/// Checks that every accepted id is stored exactly once, and none twice.
pub async fn assert_exactly_once(client: &Client, accepted: &[u64]) {
    let stored: Vec<(String, u64)> = client
        .query("SELECT path, count() FROM events WHERE startsWith(path, '/h/') GROUP BY path")
        .fetch_all()
        .await
        .expect("stored paths");
    let twice: Vec<&(String, u64)> = stored.iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let stored: std::collections::HashSet<u64> = stored
        .iter()
        .filter_map(|(path, _)| path.strip_prefix("/h/")?.parse().ok())
        .collect();
    let missing: Vec<&u64> = accepted.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted hits missing: {:?}",
        missing.len(),
        accepted.len(),
        &missing[..missing.len().min(20)]
    );
}

/// Waits until `events` holds at least `rows` rows.
pub async fn wait_for_rows(client: &Client, rows: u64, within: Duration) -> u64 {
    let deadline = std::time::Instant::now() + within;
    loop {
        let count: u64 = client
            .query("SELECT count() FROM events")
            .fetch_one()
            .await
            .unwrap_or(0);
        if count >= rows || std::time::Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of one series of a collector's `/metrics` (a name with its
/// labels, as written), or 0 when absent.
pub async fn metric(addr: SocketAddr, series: &str) -> u64 {
    let body = send(addr, browser_request("GET", "/metrics", &[], b""))
        .await
        .body;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
