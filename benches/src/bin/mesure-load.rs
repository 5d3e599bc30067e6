//! `mesure-load`: the load generator (`run`), the bare ceiling server
//! (`bare`), the whole ingestion benchmark (`suite`), which rewrites
//! `benches/README.md`, and the dashboard's (`dashboard`), which puts its
//! figures in. Loopback only; every run is bounded in time.

#![expect(
    clippy::print_stdout,
    reason = "a command-line tool: its reports go to stdout"
)]

use anyhow::bail;
use clap::{Parser, Subcommand};
use mesure_bench::mix::{Corpus, HOST, SITE};
use mesure_bench::run::{Mode, Report, run};
use mesure_bench::services::{
    Process, address_in, http, machine, mesure, now_utc, repo, start_clickhouse, usage,
};
use serde_json::json;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "mesure-load",
    about = "Load generator and ingestion benchmarks of Mesure (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Send the realistic mix to a collector and print a JSON report.
    Run {
        /// Collector address (loopback).
        #[arg(long, default_value = "127.0.0.1:8080")]
        target: SocketAddr,
        /// Constant arrival rate (open loop); omit for closed loop.
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Percentage of hits sent as beacons.
        #[arg(long, default_value_t = 20)]
        beacons: u8,
    },
    /// Serve the bare GIF (the ceiling) and print the address.
    Bare {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Write requests of the mix for wrk (`benches/wrk/mix.lua`).
    Requests {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// Percentage of hits sent as beacons.
        #[arg(long, default_value_t = 20)]
        beacons: u8,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run every ingestion benchmark and rewrite benches/README.md.
    Suite {
        /// Shorter runs, to check the suite itself (figures not comparable).
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "benches/README.md")]
        out: PathBuf,
    },
    /// Generate 10 then 100 million demo events, time the dashboard's
    /// overview cold and warm, and write the figures into benches/README.md.
    Dashboard {
        /// Smaller data, to check the harness (figures not comparable).
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "benches/README.md")]
        out: PathBuf,
    },
    /// Weigh the dashboard's overview page (bytes transferred, cold and
    /// warm) and write it into benches/README.md.
    Weight {
        /// Smaller data, to check the harness.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "benches/README.md")]
        out: PathBuf,
    },
}

/// Starts the bare server (this binary's `bare`) on a free port.
fn start_bare() -> anyhow::Result<(Process, SocketAddr)> {
    let mut bare = Process(
        Command::new(std::env::current_exe()?)
            .arg("bare")
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let addr = address_in(&bare.first_line()?)?;
    Ok((bare, addr))
}

fn check_loopback(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address: load is only ever sent to this machine");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Run {
            target,
            rate,
            seconds,
            connections,
            beacons,
        } => {
            check_loopback(target)?;
            let corpus = Arc::new(Corpus::load(&Corpus::default_path(&repo()))?);
            let mode = rate.map_or(Mode::Closed, |rate| Mode::Open { rate });
            let report = run(
                target,
                mode,
                corpus,
                beacons,
                Duration::from_secs(seconds.min(600)),
                connections,
            )
            .await;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Cmd::Bare { listen } => {
            check_loopback(listen)?;
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!("listening on {}", listener.local_addr()?);
            std::io::stdout().flush()?;
            mesure_bench::bare::serve(listener).await;
        }
        Cmd::Requests {
            count,
            beacons,
            out,
        } => {
            let corpus = Arc::new(Corpus::load(&Corpus::default_path(&repo()))?);
            mesure_bench::wrk::write_requests(corpus, beacons, count, &out)?;
        }
        Cmd::Suite { quick, out } => suite(quick, &out).await?,
        Cmd::Dashboard { quick, out } => mesure_bench::dashboard::bench(quick, &out).await?,
        Cmd::Weight { quick, out } => mesure_bench::weight::bench(quick, &out).await?,
    }
    Ok(())
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    http(addr, "GET", "/metrics", "")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// Hits the collector answered but shed (`503` or a pixel's GIF) because
/// its spool writer was behind or its spool full: a run that sheds measures
/// less than the work it claims.
fn shed(collector: SocketAddr) -> f64 {
    metric(
        collector,
        "mesure_hits_dropped_total{reason=\"overloaded\"}",
    )
}

fn rows(clickhouse: SocketAddr) -> u64 {
    http(clickhouse, "POST", "/", "SELECT count() FROM mesure.events")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

struct Services {
    dir: PathBuf,
    clickhouse: Option<Process>,
    clickhouse_addr: SocketAddr,
    collector: Process,
    collector_addr: SocketAddr,
}

fn start_services(extra: &[(&str, String)]) -> anyhow::Result<Services> {
    let dir = std::env::temp_dir().join(format!("mesure-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let (clickhouse, clickhouse_addr) = start_clickhouse(&dir, port)?;
    let collector_addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut env = vec![
        (
            "MESURE_CLICKHOUSE_URL".to_owned(),
            format!("http://{clickhouse_addr}"),
        ),
        (
            "MESURE_COLLECTOR_LISTEN".to_owned(),
            collector_addr.to_string(),
        ),
        (
            "MESURE_COLLECTOR_TRUSTED_PROXIES".to_owned(),
            "127.0.0.0/8".to_owned(),
        ),
        (
            "MESURE_GEOIP_DATABASES".to_owned(),
            repo()
                .join(".data/geoip/GeoLite2-City.mmdb")
                .display()
                .to_string(),
        ),
        (
            "MESURE_SPOOL_DIR".to_owned(),
            dir.join("spool").display().to_string(),
        ),
        (
            "MESURE_ACCOUNTS_URL".to_owned(),
            format!("sqlite://{}", dir.join("accounts.sqlite").display()),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    anyhow::ensure!(
        mesure(&["migrate"], &env)?.status()?.success(),
        "migrate failed"
    );
    anyhow::ensure!(
        mesure(&["site", "put", SITE, "--host", HOST], &env)?
            .status()?
            .success(),
        "site put failed"
    );
    let collector = Process(
        mesure(&["collector"], &env)?
            .stdout(Stdio::null())
            .spawn()?,
    );
    let started = Instant::now();
    while http(collector_addr, "GET", "/readyz", "").map_or(true, |b| !b.contains("\"ready\":true"))
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the collector is not ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Services {
        dir,
        clickhouse: Some(clickhouse),
        clickhouse_addr,
        collector,
        collector_addr,
    })
}

/// Waits until ClickHouse holds `expected` rows; returns what it holds.
fn wait_rows(clickhouse: SocketAddr, expected: u64, within: Duration) -> u64 {
    let started = Instant::now();
    loop {
        let n = rows(clickhouse);
        if n >= expected || started.elapsed() > within {
            return n;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Mean time of a criterion benchmark, in microseconds.
fn criterion_mean(group: &str, name: &str) -> Option<f64> {
    let path = repo()
        .join("target/criterion")
        .join(group)
        .join(name)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(value["mean"]["point_estimate"].as_f64()? / 1000.0)
}

/// Every step measured by criterion: name and mean in nanoseconds.
fn criterion_steps() -> Vec<(String, f64)> {
    let dir = repo().join("target/criterion/steps");
    let mut steps: Vec<(String, f64)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    criterion_mean("steps", &name).map(|us| (name.replace('_', ":"), us * 1000.0))
                })
                .collect()
        })
        .unwrap_or_default();
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    steps
}

/// Seconds each server is loaded before its CPU is measured.
const WARM_UP_SECONDS: u64 = 5;
/// Closed-loop runs of each server, of which the median counts.
const CLOSED_RUNS: usize = 3;

/// The run whose server (split index 1) spent the median CPU per request.
fn median_by_server<const N: usize>(mut runs: Vec<(Report, [f64; N])>) -> (Report, [f64; N]) {
    runs.sort_by(|a, b| a.1[1].total_cmp(&b.1[1]));
    let middle = runs.len() / 2;
    runs.swap_remove(middle)
}

async fn suite(quick: bool, out: &Path) -> anyhow::Result<()> {
    let secs = |full: u64, short: u64| Duration::from_secs(if quick { short } else { full });
    let corpus = Arc::new(Corpus::load(&Corpus::default_path(&repo()))?);
    let mut results = serde_json::Map::new();

    // 1. The ceiling and the collector at full speed, same generator, same run.
    // Each server is measured warm: a first run, not counted, maps its
    // pages, fills its caches and lets the allocator reach its working set.
    let (closed_for, warm_for) = (secs(10, 3), secs(WARM_UP_SECONDS, 1));
    let pixels = |addr: SocketAddr, seconds: Duration| {
        run(addr, Mode::Closed, Arc::clone(&corpus), 0, seconds, 64)
    };
    eprintln!("suite: ceiling (bare server)");
    let (bare, bare_addr) = start_bare()?;
    pixels(bare_addr, warm_for).await;
    let cpu = |pid: u32| usage(pid).1;
    // Each is measured CLOSED_RUNS times and its median run kept: one
    // stall of this shared machine moves a single run by a tenth.
    let mut ceilings = Vec::new();
    for _ in 0..CLOSED_RUNS {
        let (bare_before, generator_before) = (cpu(bare.pid()), cpu(std::process::id()));
        let report = pixels(bare_addr, closed_for).await;
        // CPU per request of the generator's process, and of the bare server's.
        let per_request =
            |before: f64, pid: u32| (cpu(pid) - before) * 1e6 / (report.ok.max(1) as f64);
        let split = [
            per_request(generator_before, std::process::id()),
            per_request(bare_before, bare.pid()),
        ];
        ceilings.push((report, split));
    }
    let (ceiling, ceiling_split) = median_by_server(ceilings);
    drop(bare);
    eprintln!("suite: collector, closed loop");
    let services = start_services(&[])?;
    let collector = services.collector_addr;
    let accepted_before = metric(collector, "mesure_hits_accepted_total");
    let shed_before = shed(collector);
    pixels(collector, warm_for).await;
    let mut maxes = Vec::new();
    for _ in 0..CLOSED_RUNS {
        let cpu = Split::start(&services);
        let report = pixels(collector, closed_for).await;
        let split = cpu.per_hit(report.ok);
        maxes.push((report, split));
    }
    let (max, max_split) = median_by_server(maxes);
    let ratio = max.per_second / ceiling.per_second.max(1.0);
    let cpu_ratio = max_split[1] / ceiling_split[1].max(1e-9);

    // Where the collector's CPU goes: the same load again, sampled by perf
    // (a run of its own: sampling costs CPU too).
    eprintln!("suite: collector, closed loop, profiled");
    let profile_for = secs(10, 3);
    let recording = mesure_bench::profile::record(
        services.collector.pid(),
        profile_for.as_secs(),
        &services.dir,
    );
    pixels(collector, profile_for + Duration::from_secs(1)).await;
    let shares = recording.and_then(mesure_bench::profile::Recording::shares);
    if shares.is_none() {
        eprintln!("suite: no profile (perf missing or refused)");
    }

    // 2. Sustained end to end: rows stored must equal hits accepted. What
    // ClickHouse stored during the run, per second, is the maximum
    // sustainable rate: above it the spool grows.
    eprintln!("suite: sustained end to end");
    let sustained_cpu = Split::start(&services);
    let sustained_for = secs(60, 5);
    let accepted_start = metric(collector, "mesure_hits_accepted_total");
    let stored_start = rows(services.clickhouse_addr);
    let sustained = run(
        collector,
        Mode::Closed,
        Arc::clone(&corpus),
        20,
        sustained_for,
        64,
    )
    .await;
    let accepted_total = metric(collector, "mesure_hits_accepted_total");
    let stored_during = rows(services.clickhouse_addr).saturating_sub(stored_start);
    let accepted_sustained = (accepted_total - accepted_start) as u64;
    let sustained_split = sustained_cpu.per_hit(accepted_sustained);
    // Everything accepted so far, every phase included, against what ClickHouse holds.
    let accepted_so_far = (accepted_total - accepted_before) as u64;
    // wrk starts once ClickHouse has caught up.
    wait_rows(
        services.clickhouse_addr,
        accepted_so_far,
        Duration::from_secs(180),
    );
    let (peak_kb, _) = usage(services.collector.pid());
    let cpu_per_event_us = sustained_split[1];

    // The same sustained run by wrk, counted by the collector itself.
    eprintln!("suite: sustained, by wrk");
    let requests = services.dir.join("wrk-requests.tsv");
    mesure_bench::wrk::write_requests(Arc::clone(&corpus), 20, 100_000, &requests)?;
    let accepted_before_wrk = metric(collector, "mesure_hits_accepted_total");
    let wrk = mesure_bench::wrk::run(
        collector,
        &requests,
        &repo().join("benches/wrk/mix.lua"),
        sustained_for,
        64,
    );
    let wrk_accepted =
        (metric(collector, "mesure_hits_accepted_total") - accepted_before_wrk) as u64;
    if let Err(error) = &wrk {
        eprintln!("suite: wrk: {error}");
    }
    let wrk = wrk.ok();
    let accepted_with_wrk =
        (metric(collector, "mesure_hits_accepted_total") - accepted_before) as u64;
    let stored_with_wrk = wait_rows(
        services.clickhouse_addr,
        accepted_with_wrk,
        Duration::from_secs(180),
    );
    let seconds = sustained_for.as_secs_f64();
    let sustainable = (stored_during as f64 / seconds).min(accepted_sustained as f64 / seconds);
    let mut shed_total = shed(collector) - shed_before;

    // 3. Latency at fractions of the maximum sustainable rate, open loop, on
    // fresh services: after the sustained run ClickHouse merges its parts
    // for minutes, which is not the steady state being measured.
    drop(services);
    let mut services = start_services(&[])?;
    let collector = services.collector_addr;
    let accepted_fresh = metric(collector, "mesure_hits_accepted_total");
    let shed_fresh = shed(collector);
    let mut latency = Vec::new();
    let mut open_split = [0.0; 3];
    for fraction in [0.1, 0.5, 0.7, 0.9] {
        eprintln!("suite: open loop at {:.0} %", fraction * 100.0);
        let rate = (sustainable * fraction).max(10.0);
        let cpu = Split::start(&services);
        let report = run(
            collector,
            Mode::Open { rate },
            Arc::clone(&corpus),
            20,
            secs(15, 3),
            256,
        )
        .await;
        if (fraction - 0.7).abs() < 1e-9 {
            open_split = cpu.per_hit(report.ok);
        }
        latency.push((fraction, rate, report));
        // Each level starts with the spool shipped.
        let accepted = metric(collector, "mesure_hits_accepted_total") - accepted_fresh;
        wait_rows(
            services.clickhouse_addr,
            accepted as u64,
            Duration::from_secs(120),
        );
    }

    // 4. A ClickHouse outage under steady load at 70 %: memory must stay
    // bounded, and the latency is the collector's own, with only the
    // generator beside it on the cores. Then the same load while the spool
    // drains into the restarted ClickHouse.
    eprintln!("suite: ClickHouse outage under load");
    let port = services.clickhouse_addr.port();
    let outage = secs(60, 5);
    let load_rate = (sustainable * 0.7).max(10.0);
    let open = |target, seconds| {
        run(
            target,
            Mode::Open { rate: load_rate },
            Arc::clone(&corpus),
            20,
            seconds,
            256,
        )
    };
    services.clickhouse = None; // killed
    let outage_cpu = Split::start(&services);
    let outage_report = open(collector, outage).await;
    let outage_split = outage_cpu.per_hit(outage_report.ok);
    let (peak_outage_kb, _) = usage(services.collector.pid());
    let spool_bytes = metric(collector, "mesure_spool_bytes");
    let (clickhouse, _) = start_clickhouse(&services.dir, port)?;
    services.clickhouse = Some(clickhouse);
    let recovery_report = open(collector, secs(10, 3)).await;
    let accepted_end = metric(collector, "mesure_hits_accepted_total");
    let stored_end = wait_rows(
        services.clickhouse_addr,
        accepted_end as u64,
        Duration::from_secs(300),
    );
    let accepted_all = (accepted_end - accepted_fresh) as u64;
    shed_total += shed(collector) - shed_fresh;
    drop(services);
    // The machine's own floor at that rate: the bare server, same load.
    eprintln!("suite: bare server at the outage's rate");
    let floor = {
        let (_bare, addr) = start_bare()?;
        open(addr, outage).await
    };

    // 5. Cost as it grows: more sites, then a full table of visits.
    eprintln!("suite: cost as it grows");
    let growth = growth(quick, &corpus, secs(10, 3)).await?;
    let fill_visits = fill_visits(quick);

    let pipeline_us = criterion_mean("pipeline", "whole, warm caches");
    results.insert("ceiling".into(), json!(ceiling));
    results.insert("collector".into(), json!(max));
    let text = render(&Rendered {
        quick,
        ceiling: &ceiling,
        max: &max,
        ratio,
        latency: &latency,
        sustained: &sustained,
        sustained_seconds: sustained_for.as_secs(),
        accepted_sustained,
        accepted_so_far: accepted_with_wrk,
        stored: stored_with_wrk,
        accepted_all,
        stored_end,
        peak_kb,
        peak_outage_kb,
        spool_bytes,
        outage_report: &outage_report,
        floor: &floor,
        recovery_report: &recovery_report,
        outage_seconds: outage.as_secs(),
        cpu_per_event_us,
        pipeline_us,
        sustainable,
        ceiling_split,
        cpu_ratio,
        closed_seconds: closed_for.as_secs(),
        shed: shed_total as u64,
        warm_up_seconds: warm_for.as_secs(),
        shares,
        wrk,
        wrk_accepted,
        max_split,
        sustained_split,
        open_split,
        outage_split,
        growth: &growth,
        fill_visits,
    });
    // The dashboard's figures, measured apart, are kept.
    let path = repo().join(out);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let text = mesure_bench::readme::PARTS
        .iter()
        .fold(text, |text, part| part.carry(&old, &text));
    std::fs::write(path, text)?;
    eprintln!("suite: {} written", out.display());
    Ok(())
}

struct Rendered<'a> {
    quick: bool,
    ceiling: &'a Report,
    max: &'a Report,
    ratio: f64,
    latency: &'a [(f64, f64, Report)],
    sustained: &'a Report,
    sustained_seconds: u64,
    accepted_sustained: u64,
    accepted_so_far: u64,
    stored: u64,
    accepted_all: u64,
    stored_end: u64,
    peak_kb: u64,
    peak_outage_kb: u64,
    spool_bytes: f64,
    /// At 70 % during the outage, then while the spool drains.
    outage_report: &'a Report,
    /// The bare server at the outage's rate.
    floor: &'a Report,
    recovery_report: &'a Report,
    outage_seconds: u64,
    cpu_per_event_us: f64,
    pipeline_us: Option<f64>,
    /// Rows ClickHouse stored per second during the sustained run.
    sustainable: f64,
    /// CPU µs per request of the generator and of the bare server.
    ceiling_split: [f64; 2],
    /// The collector's CPU per hit over the bare server's per request.
    cpu_ratio: f64,
    /// Hits shed as overloaded over the runs above (not the growth runs).
    shed: u64,
    /// How long each was measured, after how long a warm-up.
    closed_seconds: u64,
    warm_up_seconds: u64,
    /// Each part's share of the collector's CPU, in percent, and the rest.
    shares: Option<(Vec<(&'static str, f64)>, f64)>,
    /// The sustained run again, by wrk; hits the collector counted meanwhile.
    wrk: Option<mesure_bench::wrk::WrkReport>,
    wrk_accepted: u64,
    /// CPU µs per hit of the generator, the collector and ClickHouse, at
    /// full speed and during the sustained run.
    max_split: [f64; 3],
    sustained_split: [f64; 3],
    /// The same, open loop at 70 %, with ClickHouse up and down.
    open_split: [f64; 3],
    outage_split: [f64; 3],
    growth: &'a [Growth],
    /// New visitors sent before the last growth step.
    fill_visits: u64,
}

/// CPU time of the generator, the collector and ClickHouse from a start.
struct Split {
    pids: [u32; 3],
    before: [f64; 3],
}

impl Split {
    fn start(services: &Services) -> Split {
        let clickhouse = services.clickhouse.as_ref().map_or(0, Process::pid);
        let pids = [std::process::id(), services.collector.pid(), clickhouse];
        Split {
            pids,
            before: pids.map(|pid| usage(pid).1),
        }
    }

    /// Microseconds of CPU per hit of each process since the start.
    fn per_hit(&self, hits: u64) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (i, pid) in self.pids.iter().enumerate() {
            out[i] = (usage(*pid).1 - self.before[i]).max(0.0) * 1e6 / hits.max(1) as f64;
        }
        out
    }
}

/// Where the CPU goes, process by process, and inside the collector.
fn why(r: &Rendered<'_>) -> String {
    let total = |split: &[f64; 3]| split.iter().sum::<f64>();
    let collector = r.max_split[1];
    let mut s = String::from(
        "\n## Where the CPU goes\n\nCPU time per hit of each process (user and system, from `/proc`), over the same runs:\n\n| run | load generator | server | local ClickHouse | all |\n| --- | --- | --- | --- | --- |\n",
    );
    s.push_str(&format!(
        "| bare server, closed loop | {:.1} µs | {:.1} µs | | {:.1} µs |\n",
        r.ceiling_split[0],
        r.ceiling_split[1],
        r.ceiling_split[0] + r.ceiling_split[1]
    ));
    for (name, split) in [
        ("collector, closed loop", &r.max_split),
        ("collector, sustained", &r.sustained_split),
        ("collector, open loop at 70 %", &r.open_split),
        (
            "collector, open loop at 70 %, ClickHouse down",
            &r.outage_split,
        ),
    ] {
        s.push_str(&format!(
            "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs |\n",
            split[0],
            split[1],
            split[2],
            total(split)
        ));
    }
    s.push_str(&format!(
        "\nThe collector's process spends {collector:.1} µs of CPU a hit, the bare server's {:.1} µs a request: {:.2} times as much, with the same generator, mix (pixels) and connections, each the median of {CLOSED_RUNS} runs of {} s, after {} s of the same load not counted (a fresh process first maps its pages and fills its caches). Both pay the HTTP exchange on loopback (reading, parsing, answering, the kernel's TCP on both ends); the collector also parses the hit, enriches it, appends it to the spool before answering, and ships the spool to ClickHouse.\n",
        r.ceiling_split[1], r.cpu_ratio, r.closed_seconds, r.warm_up_seconds
    ));
    match &r.shares {
        Some((shares, rest)) => {
            s.push_str("\nInside the collector, from `perf record` (499 samples a second with call stacks, over a closed-loop run of its own), each part with everything it calls:\n\n| part | share of the collector's CPU | per hit |\n| --- | --- | --- |\n");
            for (name, share) in shares {
                s.push_str(&format!(
                    "| {name} | {share:.1} % | {:.2} µs |\n",
                    share / 100.0 * collector
                ));
            }
            s.push_str(&format!(
                "| the rest: HTTP (hyper), the kernel's TCP, the runtime | {rest:.1} % | {:.2} µs |\n",
                rest / 100.0 * collector
            ));
            s.push_str(&format!(
                "\nThe bare server's whole cost, {:.1} µs, is the same kind of work as the last line.\n",
                r.ceiling_split[1]
            ));
        }
        None => s.push_str("\nNo profile: `perf` is missing or not allowed here (`scripts/setup.sh --bench` installs Debian's `linux-perf`; the kernel must allow sampling).\n"),
    }
    let low = r
        .latency
        .first()
        .map(|(_, _, rep)| rep.latency)
        .unwrap_or_default();
    let busy = 0.7 * r.sustainable * total(&r.open_split) / 2e6 * 100.0;
    s.push_str(&format!(
        "\nIn open loop every hit arrives on its own and costs a wake-up in the generator and in the collector ({:.1} µs and {:.1} µs a hit at 70 %), so the two cores are about {busy:.0} % busy, and the local ClickHouse's inserts and merges come in bursts on both cores: hits queue behind them, which is the tail of the latency table. At 10 % the p99 is {:.2} ms and the p99.9 {:.2} ms. With ClickHouse down (hits spooled, nothing shipped), the same 70 % load gives a p99 of {:.2} ms and a p99.9 of {:.2} ms: what the collector does alone beside the load generator. The bare server, sent the same load at the same rate, gives a p99 of {:.2} ms and a p99.9 of {:.2} ms (max {:.1} ms): the floor this machine sets for any server sharing its two cores with the generator, which a single stall of the virtual machine raises for the whole run.\n",
        r.open_split[0],
        r.open_split[1],
        low.p99_ms,
        low.p999_ms,
        r.outage_report.latency.p99_ms,
        r.outage_report.latency.p999_ms,
        r.floor.latency.p99_ms,
        r.floor.latency.p999_ms,
        r.floor.latency.max_ms,
    ));
    s
}

fn verdict(ok: bool) -> &'static str {
    mesure_bench::readme::verdict(false, ok)
}

fn render(r: &Rendered<'_>) -> String {
    let date = now_utc();
    let at = |fraction: f64| {
        r.latency
            .iter()
            .find(|(f, _, _)| (*f - fraction).abs() < 1e-9)
            .map(|(_, _, rep)| rep.latency)
    };
    let (at50, at70) = (at(0.5), at(0.7));
    let sustained_rate = r.accepted_sustained as f64 / r.sustained_seconds.max(1) as f64;
    let mut s = String::new();
    s.push_str(
        "# Benchmarks\n\nPerformance is measured here, never by timed assertions in tests.\n\n",
    );
    s.push_str(&format!(
        "Measured on {date}, on {}, with the load generator on the same machine (loopback).\nCommand: `make bench` (criterion: `cargo bench -p mesure-bench --bench pipeline`; the rest: `target/release/mesure-load suite`).{}\n\n",
        machine(),
        if r.quick { "\n\n**Quick run (`--quick`): durations shortened, figures not comparable with the targets.**" } else { "" }
    ));
    s.push_str("## Targets\n\n| what | target | measured | verdict |\n| --- | --- | --- | --- |\n");
    s.push_str(&format!(
        "| CPU of the collector's process per hit vs the bare hyper server's per request, same generator, same mix, closed loop | ≤ 1.5 times | {:.1} µs vs {:.1} µs: **{:.2}** | {} |\n",
        r.max_split[1], r.ceiling_split[1], r.cpu_ratio, verdict(r.cpu_ratio <= 1.5)
    ));
    s.push_str(&format!(
        "| end-to-end events/s into ClickHouse (local engine co-located), sustained {} s, rows stored = hits accepted | ≥ 20,000, rows = accepted | {:.0}/s{}; {} hits accepted since start, {} rows stored | {} |\n",
        r.sustained_seconds, sustained_rate,
        r.wrk.map_or(String::new(), |w| format!(" (wrk, same run again: {:.0}/s)", w.per_second)),
        r.accepted_so_far, r.stored,
        verdict(sustained_rate >= 20_000.0 && r.stored == r.accepted_so_far)
    ));
    let alone = r.outage_report.latency;
    s.push_str(&format!(
        "| pixel latency of the collector alone (ClickHouse down, hits spooled) at 70 % of the maximum sustainable rate ({:.0}/s), open loop from intended send time | p99 ≤ 2 ms, p99.9 ≤ 5 ms | p99 {:.2} ms, p99.9 {:.2} ms (the bare server at that rate: p99 {:.2} ms, p99.9 {:.2} ms) | {} |\n",
        r.sustainable * 0.7, alone.p99_ms, alone.p999_ms, r.floor.latency.p99_ms, r.floor.latency.p999_ms,
        verdict(alone.p99_ms <= 2.0 && alone.p999_ms <= 5.0)
    ));
    if let Some(l) = at50 {
        s.push_str(&format!(
            "| pixel latency with the local ClickHouse co-located, at 50 % ({:.0}/s) | p99 ≤ 20 ms | p99 {:.2} ms (at 70 %: {}) | {} |\n",
            r.sustainable * 0.5, l.p99_ms,
            at70.map_or("not measured".to_owned(), |l| format!("p99 {:.2} ms, p99.9 {:.2} ms", l.p99_ms, l.p999_ms)),
            verdict(l.p99_ms <= 20.0)
        ));
    }
    match r.pipeline_us {
        Some(us) => s.push_str(&format!(
            "| CPU per event, enrichment pipeline alone (criterion, 10,000 real user agents, warm caches) | ≤ 1 µs | {us:.2} µs | {} |\n",
            verdict(us <= 1.0)
        )),
        None => s.push_str("| CPU per event, enrichment pipeline alone | ≤ 1 µs | not measured (run the criterion bench first) | |\n"),
    }
    let peak_mb = r.peak_kb.max(r.peak_outage_kb) as f64 / 1024.0;
    s.push_str(&format!(
        "| collector memory at maximum load and during a {} s ClickHouse outage | ≤ 128 MB RSS | peak {:.0} MB (spool {:.1} MB on disk during the outage) | {} |\n",
        r.outage_seconds, peak_mb, r.spool_bytes / 1e6, verdict(peak_mb <= 128.0)
    ));
    s.push_str("| dashboard overview, one site over 30 days and 6 months, warm | p95 ≤ 300 ms at 10 million events, ≤ 1 s at 100 million | not measured yet: `mesure-load dashboard` | |\n");
    let script = mesure_collector::assets::SITE_SCRIPT.gzip.len();
    s.push_str(&format!(
        "| site script | ≤ 1 KB gzipped | {script} bytes gzipped as served (`/m.js`; also checked by `make test`) | {} |\n\n",
        verdict(script <= 1024)
    ));
    s.push_str("## CPU per step (criterion, mean per event)\n\n| step | time |\n| --- | --- |\n");
    for (name, ns) in criterion_steps() {
        s.push_str(&format!("| {name} | {ns:.0} ns |\n"));
    }
    s.push('\n');
    s.push_str(&format!("## Latency, open loop (20 % beacons, 80 % pixels)\n\nLoads are fractions of the maximum sustainable rate, {:.0}/s: the rows ClickHouse stored per second during the sustained run (above it the spool grows).\n\n| load", r.sustainable));
    s.push_str(" | rate | p50 | p90 | p99 | p99.9 | max | errors |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let outage_row = (
        "70 %, ClickHouse down (spooled)".to_owned(),
        r.sustainable * 0.7,
        r.outage_report,
    );
    let rows = r
        .latency
        .iter()
        .map(|(fraction, rate, rep)| (format!("{:.0} %", fraction * 100.0), *rate, rep))
        .chain([
            outage_row,
            (
                "70 %, the bare server (the machine's floor)".to_owned(),
                r.sustainable * 0.7,
                r.floor,
            ),
        ]);
    for (load, rate, rep) in rows {
        let l = rep.latency;
        s.push_str(&format!(
            "| {load} | {rate:.0}/s | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} ms | {} |\n",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, rep.errors
        ));
    }
    s.push_str(&format!(
        "\n## Whole service\n\n- CPU of the collector process during the sustained run: {:.1} µs per accepted event (HTTP, pipeline, spool, shipping).\n- ClickHouse outage of {} s at {:.0}/s: {} hits answered, {} errors; then {:.0} s more at that rate while the spool drained into the restarted ClickHouse: {} hits answered, {} errors, p99 {:.2} ms; in the end, {} rows stored for {} hits accepted since the services were restarted for the latency runs.\n- Closed loop, 64 connections: ceiling {:.0}/s (p99 {:.2} ms), collector {:.0}/s (p99 {:.2} ms): {:.2} of the bare server's rate, on two cores the generator and the local ClickHouse share.\n",
        r.cpu_per_event_us, r.outage_seconds, r.outage_report.per_second, r.outage_report.ok, r.outage_report.errors,
        r.recovery_report.seconds, r.recovery_report.ok, r.recovery_report.errors, r.recovery_report.latency.p99_ms,
        r.stored_end, r.accepted_all, r.ceiling.per_second, r.ceiling.latency.p99_ms, r.max.per_second, r.max.latency.p99_ms, r.ratio
    ));
    s.push_str(&match r.wrk {
        Some(w) => format!(
            "- Cross-check: the sustained run repeated by Debian's `wrk` (`benches/wrk/mix.lua`: the same mix, 2 threads, 64 connections, {} s): wrk counted {} requests, {:.0}/s, p99 {:.2} ms, {} errors; the collector counted {} hits accepted meanwhile ({:.0}/s). `mesure-load` in the same conditions: {:.0}/s.\n",
            r.sustained_seconds, w.requests, w.per_second, w.p99_ms, w.errors, r.wrk_accepted,
            r.wrk_accepted as f64 / r.sustained_seconds.max(1) as f64, r.sustained.per_second
        ),
        None => "- Cross-check by `wrk`: not run (`scripts/setup.sh --bench` installs Debian's `wrk`).\n".to_owned(),
    });
    s.push_str(&format!(
        "- Hits shed as overloaded (`mesure_hits_dropped_total{{reason=\"overloaded\"}}`: the spool writer behind or the spool full) over every run above: {}{}.\n",
        r.shed,
        if r.shed == 0 { "" } else { ": those runs count hits answered but not stored, and their figures flatter the collector" }
    ));
    s.push_str(&why(r));
    s.push_str(&format!(
        "\nThe two cores are shared by the load generator, the collector and the local ClickHouse (chdb-core behind a Python HTTP server), so absolute figures are those of one small machine doing everything; the ratio to the bare server compares like with like. Sustained run: {:.0} requests/s sent, {} errors.\n",
        r.sustained.per_second, r.sustained.errors
    ));
    s.push_str(&grown(r.growth, r.fill_visits));
    s
}

/// New visitors sent before the growth run's last step.
fn fill_visits(quick: bool) -> u64 {
    if quick { 20_000 } else { 1_000_000 }
}

/// The growth collector's table: room for every visit, whatever shard each
/// falls in.
fn session_room(visits: u64) -> u64 {
    visits + visits / 5
}

/// One step of the growth run.
#[derive(Debug)]
struct Growth {
    sites: u64,
    /// Visits the collector's table held after the fill (its
    /// `mesure_sessions_active` gauge); none before it.
    visits: Option<u64>,
    per_second: f64,
    /// The collector's CPU per hit.
    cpu_us: f64,
    rss_kb: u64,
}

/// Throughput, CPU and memory with 10, 1,000 and 100,000 sites
/// registered, then with the table of visits full (1 million).
async fn growth(quick: bool, corpus: &Arc<Corpus>, each: Duration) -> anyhow::Result<Vec<Growth>> {
    let visits = fill_visits(quick);
    let services = start_services(&[(
        "MESURE_COLLECTOR_MAX_SESSIONS",
        session_room(visits).to_string(),
    )])?;
    let collector = services.collector_addr;
    let sites: &[u64] = if quick {
        &[10, 1000]
    } else {
        &[10, 1000, 100_000]
    };
    let mut registered = 1; // the benchmark's own site
    let mut steps = Vec::new();
    let measure = |sites: u64, filled: bool| {
        let services = &services;
        async move {
            let visits = filled.then(|| metric(collector, "mesure_sessions_active") as u64);
            let cpu = Split::start(services);
            let report = run(collector, Mode::Closed, Arc::clone(corpus), 0, each, 64).await;
            Growth {
                sites,
                visits,
                per_second: report.per_second,
                cpu_us: cpu.per_hit(report.ok)[1],
                rss_kb: mesure_bench::services::rss_kb(services.collector.pid()),
            }
        }
    };
    for &target in sites {
        http(
            services.clickhouse_addr,
            "POST",
            "/",
            &format!(
                "INSERT INTO mesure.sites (site_id, hostnames, time_zone, mode, allowed_params, \
                 allowed_events, city, matomo_id, updated_at, deleted) \
                 SELECT concat('site-', toString(number)), [concat('www.site-', toString(number), '.fr')], \
                 'Europe/Paris', 'exempt', [], [], true, NULL, now64(3), false \
                 FROM numbers({registered}, {})",
                target - registered
            ),
        )?;
        registered = target;
        let started = Instant::now();
        while (metric(collector, "mesure_sites") as u64) < target {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(120),
                "the collector did not load {target} sites"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        steps.push(measure(target, false).await);
    }
    let first = |worker: usize| worker as u64 * (1 << 24);
    let fill = mesure_bench::run::run_with(
        collector,
        Mode::Closed,
        |worker| {
            mesure_bench::mix::Mix::new_visitors(
                Arc::clone(corpus),
                worker as u64 + 1,
                first(worker),
            )
        },
        Some(visits),
        Duration::from_secs(300),
        64,
    )
    .await;
    anyhow::ensure!(
        fill.ok >= visits * 99 / 100,
        "only {} new visitors sent",
        fill.ok
    );
    // The gauge follows the table at each sweep, once a minute.
    let started = Instant::now();
    while (metric(collector, "mesure_sessions_active") as u64) < visits * 99 / 100
        && started.elapsed() < Duration::from_secs(75)
    {
        std::thread::sleep(Duration::from_secs(1));
    }
    steps.push(measure(registered, true).await);
    let dir = services.dir.clone();
    drop(services);
    let _ = std::fs::remove_dir_all(dir);
    Ok(steps)
}

fn grown(steps: &[Growth], fill: u64) -> String {
    let room = session_room(fill);
    let mut s = format!(
        "\n## Cost as it grows\n\nThe same closed-loop pixel run (64 connections) as sites are registered, then with {fill} more visits in the collector's table (that many new visitors sent first, each from an address of its own; what the table holds is its `mesure_sessions_active` gauge, updated once a minute). This collector is started with room for {room} visits (`collector.max_sessions`, 900000 by default), a table allocated whole at start, so its memory is not the default's. Memory: the collector's resident set after the run.\n\n| sites registered | visits in the table | hits/s | collector CPU per hit | memory |\n| --- | --- | --- | --- | --- |\n",
    );
    for step in steps {
        s.push_str(&format!(
            "| {} | {} | {:.0}/s | {:.1} µs | {:.0} MB |\n",
            step.sites,
            step.visits
                .map_or("those of the runs so far".to_owned(), |v| v.to_string()),
            step.per_second,
            step.cpu_us,
            step.rss_kb as f64 / 1024.0
        ));
    }
    s
}
