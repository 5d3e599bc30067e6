//! Where a process's CPU goes, from `perf` (Debian's `linux-perf`, installed
//! by `scripts/setup.sh --bench`): samples with call stacks while a load
//! runs, then each part's share of the samples, by the function that
//! does it (everything it calls included) or by the thread it runs on.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The collector's parts, in the order the README lists them.
pub const PARTS: &[(&str, Part)] = &[
    (
        "parsing the hit (pixel query, beacon JSON)",
        Part::Functions(&[
            "mesure_collector::wire::pixel::parse_pixel",
            "mesure_collector::wire::beacon::parse_beacon",
        ]),
    ),
    (
        "enrichment pipeline",
        Part::Functions(&["mesure_collector::pipeline::Pipeline::process"]),
    ),
    (
        "spool: encoding the records, writing the rounds (write(2))",
        Part::Functions(&[
            "mesure_collector::spool::log::encode",
            "mesure_collector::spool::writer::Shared::write_round",
        ]),
    ),
    (
        "spool writer thread (group commit)",
        Part::Thread("spool-writer"),
    ),
    ("fsync thread", Part::Thread("spool-sync")),
    (
        "shipper (spool read, LZ4, insert)",
        Part::Functions(&["mesure_collector::spool::shipper::Shipper<D>::run::{{closure}}"]),
    ),
    (
        "metrics (Prometheus counters)",
        Part::Prefix("prometheus::"),
    ),
];

#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// The largest share of any of these functions, callees included.
    Functions(&'static [&'static str]),
    /// Every sample of a thread of that name.
    Thread(&'static str),
    /// The functions' own samples, callees excluded.
    Prefix(&'static str),
}

/// A `perf record` of one process, stopped after `seconds`.
#[derive(Debug)]
pub struct Recording {
    child: Child,
    file: std::path::PathBuf,
}

/// Starts sampling `pid`; `None` when `perf` is missing or refused.
pub fn record(pid: u32, seconds: u64, dir: &Path) -> Option<Recording> {
    let file = dir.join("collector.perf");
    let child = Command::new("perf")
        .args(["record", "-F", "499", "--call-graph", "dwarf,32768", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(&file)
        .args(["--", "sleep", &seconds.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Recording { child, file })
}

impl Recording {
    /// Waits for the recording, then each part's share of the samples, in
    /// percent, and what is left (HTTP, the kernel's TCP, the runtime).
    pub fn shares(mut self) -> Option<(Vec<(&'static str, f64)>, f64)> {
        std::thread::sleep(Duration::from_millis(200));
        if !self.child.wait().ok()?.success() {
            return None;
        }
        let report = |args: &[&str]| -> Option<String> {
            let out = Command::new("perf")
                .arg("report")
                .arg("-i")
                .arg(&self.file)
                .args(["--stdio", "-g", "none"])
                .args(args)
                .stderr(Stdio::null())
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let symbols = report(&["--children", "--sort", "sym"])?;
        let threads = report(&["--no-children", "--sort", "comm"])?;
        let _ = std::fs::remove_file(&self.file);
        Some(split(&symbols, &threads))
    }
}

/// Lines like `  29.49%  0.15%  [.] name` (children, self, symbol) or
/// `  10.51%  spool-writer` (a thread's share).
fn rows(text: &str) -> Vec<(Vec<f64>, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let mut shares = Vec::new();
            let mut rest = line.trim_start();
            while let Some((number, tail)) = rest.split_once('%') {
                let Ok(value) = number.trim().parse::<f64>() else {
                    break;
                };
                shares.push(value);
                rest = tail.trim_start();
            }
            let name = rest.trim_start_matches("[.] ").trim_start_matches("[k] ");
            (!shares.is_empty()).then(|| (shares, name.trim().to_owned()))
        })
        .collect()
}

fn split(symbols: &str, threads: &str) -> (Vec<(&'static str, f64)>, f64) {
    let symbols = rows(symbols);
    let threads = rows(threads);
    let shares: Vec<(&'static str, f64)> = PARTS
        .iter()
        .map(|(name, part)| {
            let share = match part {
                Part::Functions(functions) => functions
                    .iter()
                    .map(|f| {
                        symbols
                            .iter()
                            .filter(|(_, name)| name == f)
                            .map(|(s, _)| s[0])
                            .fold(0.0, f64::max)
                    })
                    .sum(),
                Part::Thread(thread) => threads
                    .iter()
                    .filter(|(_, name)| name == thread)
                    .map(|(s, _)| s[0])
                    .sum(),
                Part::Prefix(prefix) => symbols
                    .iter()
                    .filter(|(_, name)| name.starts_with(prefix))
                    .map(|(s, _)| s.get(1).copied().unwrap_or(0.0))
                    .sum(),
            };
            // perf can print a rounded `-0.00%`.
            (*name, if share > 0.0 { share } else { 0.0 })
        })
        .collect();
    let rest = (100.0 - shares.iter().map(|(_, s)| s).sum::<f64>()).max(0.0);
    (shares, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_come_from_perf_reports() {
        let symbols = "# comment\n\
            \x20   40.00%     0.10%  [.] mesure_collector::pipeline::Pipeline::process\n\
            \x20    3.00%     3.00%  [.] mesure_collector::spool::log::encode\n\
            \x20    9.00%     0.50%  [.] mesure_collector::spool::writer::Shared::write_round\n\
            \x20    5.00%     1.00%  [.] mesure_collector::wire::pixel::parse_pixel\n\
            \x20    4.00%     0.00%  [.] mesure_collector::wire::pixel::parse_pixel\n\
            \x20    0.90%     0.60%  [.] prometheus::vec::MetricVec<T>::with_label_values\n\
            \x20    0.30%     0.30%  [.] prometheus::counter::inc\n";
        let threads = "    80.00%  tokio-rt-worker\n    10.00%  spool-writer\n";
        let (shares, rest) = split(symbols, threads);
        let get = |n: &str| {
            shares
                .iter()
                .find(|(name, _)| name.starts_with(n))
                .map(|s| s.1)
        };
        assert_eq!(get("parsing"), Some(5.0));
        assert_eq!(get("enrichment"), Some(40.0));
        assert_eq!(get("spool: encoding"), Some(12.0));
        assert_eq!(get("spool writer"), Some(10.0));
        assert_eq!(get("fsync"), Some(0.0));
        assert!((get("metrics").unwrap_or(0.0) - 0.9).abs() < 1e-9);
        assert!((rest - (100.0 - 67.9)).abs() < 1e-9, "{rest}");
    }
}
