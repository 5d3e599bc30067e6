//! The cross-check by a tool nobody here wrote: Debian's `wrk` replays the
//! load generator's mix (`benches/wrk/mix.lua`) against the collector.

use crate::mix::{Corpus, Mix};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// Writes `count` requests of the mix, one a line, as the script reads them.
pub fn write_requests(
    corpus: Arc<Corpus>,
    beacon_percent: u8,
    count: usize,
    out: &Path,
) -> anyhow::Result<()> {
    let mut mix = Mix::new(corpus, beacon_percent, 42);
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut written = 0;
    while written < count {
        let raw = mix.next_raw();
        let mut line = format!("{}\t{}\t{}", raw.method, raw.uri, raw.body);
        for (name, value) in &raw.headers {
            line.push_str(&format!("\t{name}: {value}"));
        }
        // A tab or a line break inside a field would shift the others.
        if line.matches('\t').count() != 2 + raw.headers.len() || line.contains('\n') {
            continue;
        }
        writeln!(file, "{line}")?;
        written += 1;
    }
    file.flush()?;
    Ok(())
}

/// What wrk reports.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct WrkReport {
    pub requests: u64,
    pub per_second: f64,
    pub errors: u64,
    pub p99_ms: f64,
}

/// Runs wrk against `addr` with the requests in `file`.
pub fn run(
    addr: SocketAddr,
    file: &Path,
    script: &Path,
    duration: Duration,
    connections: usize,
) -> anyhow::Result<WrkReport> {
    let out = Command::new("wrk")
        .args(["-t2", "--latency"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg("--")
        .arg(file)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// Reads wrk's summary: requests, rate, errors and the 99th percentile.
pub fn parse(text: &str) -> WrkReport {
    let mut report = WrkReport::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.ends_with("read") && words.get(1) == Some(&"requests") {
            report.requests = words[0].parse().unwrap_or(0);
        } else if let Some(rate) = line.strip_prefix("Requests/sec:") {
            report.per_second = rate.trim().parse().unwrap_or(0.0);
        } else if let Some((label, counts)) = line.split_once(':')
            && (label == "Non-2xx or 3xx responses" || label == "Socket errors")
        {
            report.errors += counts
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u64>().ok())
                .sum::<u64>();
        } else if words.first() == Some(&"99%") {
            report.p99_ms = words.get(1).map_or(0.0, |v| milliseconds(v));
        }
    }
    report
}

/// wrk prints durations as `812.00us`, `1.23ms` or `2.00s`.
fn milliseconds(value: &str) -> f64 {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().unwrap_or(0.0);
    match unit {
        "us" => number / 1000.0,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => number,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_wrk_prints() {
        let text = "Running 10s test @ http://127.0.0.1:8080\n  2 threads and 64 connections\n\
            \x20 Thread Stats   Avg      Stdev     Max   +/- Stdev\n\
            \x20   Latency     1.90ms    1.20ms  40.00ms   90.00%\n\
            \x20 Latency Distribution\n     50%    1.50ms\n     75%    2.00ms\n     90%    3.00ms\n     99%  812.00us\n\
            \x20 345678 requests in 10.00s, 50.00MB read\n\
            \x20 Socket errors: connect 0, read 2, write 0, timeout 1\n\
            \x20 Non-2xx or 3xx responses: 4\n\
            Requests/sec:  34567.80\nTransfer/sec:      5.00MB\n";
        let report = parse(text);
        assert_eq!(report.requests, 345_678);
        assert!((report.per_second - 34_567.8).abs() < 1e-6);
        assert_eq!(report.errors, 7);
        assert!((report.p99_ms - 0.812).abs() < 1e-9);
        assert!((milliseconds("2.5s") - 2500.0).abs() < 1e-9);
    }
}
