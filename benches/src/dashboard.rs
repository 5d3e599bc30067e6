//! The dashboard's overview, timed: every panel the overview page shows,
//! asked at once as the page asks them, each over a connection of its own,
//! over demo traffic of 10 and then 100 million events (`mesure-load
//! dashboard`). The figures go into their own row and section of
//! `benches/README.md`, which the ingestion suite carries over.

use crate::client::Connection;
use crate::readme::{OVERVIEW, verdict};
use crate::services::{
    BENCH_EMAIL, Process, add_bench_user, http, http_with, machine, mesure, now_utc, repo, sign_in,
    start_clickhouse,
};
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// One panel of the overview: its name and its query (without the site and
/// the range).
#[derive(Debug, Clone)]
pub struct Panel {
    pub name: &'static str,
    pub query: Value,
}

impl Panel {
    /// The stats API request of this panel for `site` over `range`.
    pub fn request(
        &self,
        site: &str,
        range: &str,
        cookie: &str,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut body = self.query.clone();
        body["site_id"] = json!(site);
        body["date_range"] = json!(range);
        Ok(Request::post("/api/v2/query")
            .header("host", "dashboard")
            .header("cookie", cookie)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?)
    }
}

/// The overview page's panels, each as it first shows.
pub fn overview() -> Vec<Panel> {
    let top = |name, dimension: &str, metrics: Value| Panel {
        name,
        query: json!({"metrics": metrics, "dimensions": [dimension],
                      "pagination": {"limit": 9}}),
    };
    vec![
        Panel {
            name: "headline figures",
            query: json!({"metrics": ["visitors", "visits", "pageviews", "views_per_visit",
                                      "bounce_rate", "visit_duration"],
                          "include": {"comparisons": {"mode": "previous_period"}}}),
        },
        Panel {
            name: "main chart",
            query: json!({"metrics": ["visitors"], "dimensions": ["time"],
                          "include": {"comparisons": {"mode": "previous_period"}}}),
        },
        top("top pages", "event:page", json!(["visitors", "pageviews"])),
        top("channels", "visit:channel", json!(["visitors"])),
        Panel {
            name: "countries (map)",
            query: json!({"metrics": ["visitors"], "dimensions": ["visit:country"]}),
        },
        top("browsers", "visit:browser", json!(["visitors"])),
        top(
            "goals",
            "event:goal",
            json!(["visitors", "events", "conversion_rate"]),
        ),
        top("custom events", "event:name", json!(["visitors", "events"])),
        top(
            "outbound links",
            "event:outbound_link",
            json!(["visitors", "events"]),
        ),
        top(
            "downloads",
            "event:file_download",
            json!(["visitors", "events"]),
        ),
    ]
}

/// The times of some passes over the overview, in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Timing {
    /// Per panel, in the order of [`overview`].
    pub panels: Vec<(&'static str, Vec<f64>)>,
    /// The whole page: from the first request to the last answer.
    pub page: Vec<f64>,
}

/// Asks the overview of `site` over `range` `passes` times.
pub async fn measure(
    (dashboard, cookie): (SocketAddr, &str),
    site: &str,
    range: &str,
    passes: usize,
) -> anyhow::Result<Timing> {
    let panels = overview();
    let mut connections = Vec::new();
    for _ in &panels {
        connections.push(Connection::open(dashboard).await?);
    }
    let mut timing = Timing {
        panels: panels.iter().map(|p| (p.name, Vec::new())).collect(),
        page: Vec::new(),
    };
    for _ in 0..passes {
        let page = Instant::now();
        let mut asked = Vec::new();
        for (panel, mut connection) in panels.iter().zip(connections.drain(..)) {
            let request = panel.request(site, range, cookie)?;
            asked.push(tokio::spawn(async move {
                let started = Instant::now();
                let status = connection.send(request).await;
                (connection, status, started.elapsed().as_secs_f64() * 1000.0)
            }));
        }
        for (i, task) in asked.into_iter().enumerate() {
            let (connection, status, ms) = task.await?;
            let status = status?;
            anyhow::ensure!(status.is_success(), "{}: {status}", panels[i].name);
            timing.panels[i].1.push(ms);
            connections.push(connection);
        }
        timing.page.push(page.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(timing)
}

/// Asks each panel of the overview alone, one after the other, `passes`
/// times: what a panel costs when nothing else runs.
pub async fn measure_alone(
    (dashboard, cookie): (SocketAddr, &str),
    site: &str,
    range: &str,
    passes: usize,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let panels = overview();
    let mut connection = Connection::open(dashboard).await?;
    let mut times = vec![Vec::new(); panels.len()];
    for _ in 0..passes {
        for (panel, times) in panels.iter().zip(&mut times) {
            let request = panel.request(site, range, cookie)?;
            let started = Instant::now();
            let status = connection.send(request).await?;
            anyhow::ensure!(status.is_success(), "{}: {status}", panel.name);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(times)
}

/// The `p` quantile (0 to 1) of some times.
pub fn quantile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The site measured, one of the demo sites, and its time zone.
pub(crate) const SITE: &str = "demo-1";
const SITE_TZ: &str = "Europe/Paris";
pub(crate) const DEMO_SITES: u32 = 3;
/// Days of demo traffic: the whole retention, so that "6mo" is full.
pub(crate) const DEMO_DAYS: u32 = 180;
const RANGES: [&str; 2] = ["30d", "6mo"];

/// One overview measured: a data size, a range, cold and warm.
#[derive(Debug)]
struct Measured {
    events: u64,
    range: &'static str,
    /// The site's events within the range.
    in_range: u64,
    /// Per panel, which tables answered (`meta.source`).
    sources: Vec<String>,
    cold: Timing,
    warm: Timing,
    /// Per panel, warm, each asked alone.
    alone: Vec<Vec<f64>>,
}

/// Demo traffic generated: events in ClickHouse after, and seconds taken.
#[derive(Debug)]
pub(crate) struct Generated {
    pub(crate) events: u64,
    added: u64,
    seconds: f64,
    /// `mesure seal` afterwards: every finished day sealed.
    seal_seconds: f64,
}

pub(crate) struct Bench {
    pub(crate) dir: std::path::PathBuf,
    env: Vec<(String, String)>,
    pub(crate) clickhouse: Option<Process>,
    clickhouse_addr: SocketAddr,
    pub(crate) dashboard: Option<Process>,
    pub(crate) dashboard_addr: SocketAddr,
    /// The bench user's password, and its session once the dashboard runs.
    password: String,
    pub(crate) cookie: String,
    /// Whether the kernel's page cache could be dropped for cold runs.
    dropped_caches: bool,
}

impl Bench {
    pub(crate) fn start() -> anyhow::Result<Bench> {
        let dir =
            std::env::temp_dir().join(format!("mesure-dashboard-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let (clickhouse, clickhouse_addr) = start_clickhouse(&dir, port)?;
        let dashboard_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let setting = |k: &str, v: String| (k.to_owned(), v);
        let env = vec![
            setting("MESURE_CLICKHOUSE_URL", format!("http://{clickhouse_addr}")),
            setting("MESURE_DASHBOARD_LISTEN", dashboard_addr.to_string()),
            setting("MESURE_SPOOL_DIR", dir.join("spool").display().to_string()),
            setting(
                "MESURE_ACCOUNTS_URL",
                format!("sqlite://{}", dir.join("accounts.sqlite").display()),
            ),
        ];
        let bench = Bench {
            dir,
            env,
            clickhouse: Some(clickhouse),
            clickhouse_addr,
            dashboard: None,
            dashboard_addr,
            password: String::new(),
            cookie: String::new(),
            dropped_caches: false,
        };
        bench.run(&["migrate"])?;
        let password = add_bench_user(&bench.dir, &bench.env)?;
        Ok(Bench { password, ..bench })
    }

    pub(crate) fn run(&self, args: &[&str]) -> anyhow::Result<()> {
        let status = mesure(args, &self.env)?.status()?;
        anyhow::ensure!(status.success(), "mesure {}: {status}", args.join(" "));
        Ok(())
    }

    fn sql(&self, sql: &str) -> anyhow::Result<String> {
        Ok(http(self.clickhouse_addr, "POST", "/", sql)?
            .trim()
            .to_owned())
    }

    fn count(&self, sql: &str) -> anyhow::Result<u64> {
        let text = self.sql(sql)?;
        text.parse()
            .map_err(|_| anyhow::anyhow!("{sql}: unexpected answer {text:?}"))
    }

    /// Adds demo traffic until ClickHouse holds about `events`.
    pub(crate) fn generate(&self, events: u64, seed: u64) -> anyhow::Result<Generated> {
        let before = self.count("SELECT count() FROM mesure.events")?;
        let started = Instant::now();
        self.run(&[
            "demo-data",
            "--sites",
            &DEMO_SITES.to_string(),
            "--days",
            &DEMO_DAYS.to_string(),
            "--events",
            &events.saturating_sub(before).max(1).to_string(),
            "--seed",
            &seed.to_string(),
        ])?;
        let seconds = started.elapsed().as_secs_f64();
        let after = self.count("SELECT count() FROM mesure.events")?;
        Ok(Generated {
            events: after,
            added: after - before,
            seconds,
            seal_seconds: 0.0,
        })
    }

    /// Waits, within bounds, for ClickHouse to finish merging what was
    /// inserted: the steady state, not the minutes after a bulk load.
    fn settle(&self, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.count("SELECT count() FROM system.merges")? > 0 && started.elapsed() < within {
            std::thread::sleep(Duration::from_secs(2));
        }
        Ok(())
    }

    /// Starts the dashboard (anew: nothing in its memory) and waits until
    /// it is ready.
    pub(crate) fn start_dashboard(&mut self) -> anyhow::Result<()> {
        self.dashboard = None;
        self.dashboard = Some(Process(
            mesure(&["dashboard"], &self.env)?
                .stdout(std::process::Stdio::null())
                .spawn()?,
        ));
        wait_ready(self.dashboard_addr)?;
        self.cookie = sign_in(self.dashboard_addr, BENCH_EMAIL, &self.password)?;
        Ok(())
    }

    /// Restarts ClickHouse with the kernel's page cache dropped, if allowed,
    /// and the dashboard with nothing kept in memory.
    fn restart_services(&mut self) -> anyhow::Result<()> {
        self.dashboard = None;
        self.clickhouse = None;
        let _ = std::process::Command::new("sync").status();
        self.dropped_caches = std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok();
        let (clickhouse, _) = start_clickhouse(&self.dir, self.clickhouse_addr.port())?;
        self.clickhouse = Some(clickhouse);
        self.start_dashboard()
    }

    /// Asks each panel once and returns its `meta.source`, and the range's
    /// first and last days as the site's calendar has them.
    fn sources(&self, range: &str) -> anyhow::Result<(Vec<String>, [String; 2])> {
        let mut sources = Vec::new();
        let mut days = [String::new(), String::new()];
        for panel in overview() {
            let mut body = panel.query.clone();
            body["site_id"] = json!(SITE);
            body["date_range"] = json!(range);
            let (_, text) = http_with(
                self.dashboard_addr,
                "POST",
                "/api/v2/query",
                &[("Cookie", &self.cookie)],
                &body.to_string(),
            )?;
            let answer: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}: {text}", panel.name))?;
            sources.push(answer["meta"]["source"].as_str().unwrap_or("?").to_owned());
            for (i, day) in days.iter_mut().enumerate() {
                answer["query"]["date_range"][i]
                    .as_str()
                    .unwrap_or_default()
                    .clone_into(day);
            }
        }
        Ok((sources, days))
    }

    async fn overview(
        &mut self,
        events: u64,
        range: &'static str,
        passes: usize,
    ) -> anyhow::Result<Measured> {
        self.restart_services()?;
        let at = (self.dashboard_addr, self.cookie.as_str());
        let cold = measure(at, SITE, range, 1).await?;
        let warm = measure(at, SITE, range, passes).await?;
        let alone = measure_alone(at, SITE, range, passes).await?;
        let (sources, [first, last]) = self.sources(range)?;
        let in_range = self.count(&format!(
            "SELECT count() FROM mesure.events WHERE site_id = '{SITE}' \
             AND toDate(ts, '{SITE_TZ}') BETWEEN toDate('{first}') AND toDate('{last}')"
        ))?;
        Ok(Measured {
            events,
            range,
            in_range,
            sources,
            cold,
            warm,
            alone,
        })
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_ready(addr: SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    while http(addr, "GET", "/readyz", "").map_or(true, |b| !b.contains("\"ready\":true")) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the dashboard is not ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Generates 10 and then 100 million events (quick: 200,000 and 1 million),
/// times the overview over each range cold and warm, and writes the figures
/// into `out`.
pub async fn bench(quick: bool, out: &Path) -> anyhow::Result<()> {
    let sizes: [u64; 2] = if quick {
        [200_000, 1_000_000]
    } else {
        [10_000_000, 100_000_000]
    };
    // Enough pages that one slow page (a sealing pass of the dashboard's
    // own, which the local engine runs between the page's statements) is
    // not the p95 by itself.
    let passes = if quick { 5 } else { 50 };
    let settle = Duration::from_secs(if quick { 30 } else { 900 });
    let mut bench = Bench::start()?;
    let mut generated = Vec::new();
    let mut measured = Vec::new();
    for (seed, size) in (1..).zip(sizes) {
        eprintln!("dashboard bench: demo traffic up to {size} events");
        let mut added = bench.generate(size, seed)?;
        if bench.dashboard.is_none() {
            bench.run(&["goal", "put", SITE, "Inscription", "--event", "Inscription"])?;
            bench.run(&["goal", "put", SITE, "Démarches", "--page", "/demarches/**"])?;
        }
        let started = Instant::now();
        bench.run(&["seal"])?;
        added.seal_seconds = started.elapsed().as_secs_f64();
        generated.push(added);
        if bench.dashboard.is_none() {
            bench.start_dashboard()?;
        }
        bench.settle(settle)?;
        let events = bench.count("SELECT count() FROM mesure.events")?;
        for range in RANGES {
            eprintln!("dashboard bench: overview over {range}, {events} events");
            measured.push(bench.overview(events, range, passes).await?);
        }
    }
    bench.dashboard = None;
    let path = repo().join(out);
    let readme = std::fs::read_to_string(&path).unwrap_or_default();
    let (row, section) = render(quick, &generated, &measured, passes, bench.dropped_caches);
    std::fs::write(&path, OVERVIEW.splice(&readme, &row, &section))?;
    drop(bench.clickhouse.take());
    let _ = std::fs::remove_dir_all(&bench.dir);
    eprintln!("dashboard bench: {} written", out.display());
    Ok(())
}

fn millions(events: u64) -> String {
    if events >= 1_000_000 {
        format!("{:.1} million", events as f64 / 1e6)
    } else {
        format!("{events}")
    }
}

/// The target the page is held to: 300 ms at 10 million events, 1 s at 100
/// million (and the quick run's sizes held to the same two).
fn target_ms(size_index: usize) -> f64 {
    if size_index == 0 { 300.0 } else { 1000.0 }
}

/// The target table's row and the section, in Markdown.
fn render(
    quick: bool,
    generated: &[Generated],
    measured: &[Measured],
    passes: usize,
    dropped_caches: bool,
) -> (String, String) {
    let ms = |v: f64| format!("{v:.0} ms");
    let page95 = |m: &Measured| quantile(&m.warm.page, 0.95);
    let met = measured
        .iter()
        .enumerate()
        .all(|(i, m)| page95(m) <= target_ms(i / RANGES.len()));
    let measured_text = measured
        .iter()
        .map(|m| {
            format!(
                "{} events, {}: {}",
                millions(m.events),
                m.range,
                ms(page95(m))
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let row = format!(
        "{}, one site over 30 days and 6 months, warm | p95 ≤ 300 ms at 10 million events, ≤ 1 s at 100 million | {measured_text} | {} |",
        OVERVIEW.row_prefix,
        verdict(quick, met)
    );
    let mut s = format!(
        "{}

Measured on {}, on {}. Command: `make bench` (this part alone: `target/release/mesure-load dashboard`).{}

",
        OVERVIEW.heading,
        now_utc(),
        machine(),
        if quick { "

**Quick run (`--quick`): smaller data, figures not comparable with the targets.**" } else { "" }
    );
    s.push_str(&format!(
        "The overview is every panel the site's overview page shows at first: {}. \
         They are asked at once, each over its own connection, for the site `{SITE}` (one of {DEMO_SITES} demo sites), \
         the way the page asks them. The local ClickHouse runs one statement at a time, so here the page takes the sum of \
         its panels' times; a ClickHouse server runs them side by side. \
         Cold: the first page after ClickHouse and the dashboard restarted ({}; nothing in the dashboard's memory). Warm: the {passes} pages after it.\n\n",
        overview().iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        if dropped_caches {
            "the kernel's page cache dropped too"
        } else {
            "its caches empty; the kernel's page cache could not be dropped here, so the files may still be in memory"
        }
    ));
    s.push_str("Data: `mesure demo-data` with ");
    s.push_str(&format!(
        "{DEMO_SITES} sites and {DEMO_DAYS} days of traffic"
    ));
    for g in generated {
        s.push_str(&format!(
            "; {} events added in {:.0} s ({:.0} events/s), {} in all, then every finished day sealed (`mesure seal`) in {:.0} s",
            g.added,
            g.seconds,
            g.added as f64 / g.seconds.max(1e-9),
            millions(g.events),
            g.seal_seconds
        ));
    }
    s.push_str(". Each size is measured once ClickHouse has merged the inserted parts. \
        The ranges end today: their finished days are read from the sealed days, today's hours from the rollups; once a page was asked, the dashboard keeps the sealed days' answers in memory (they never change), so a warm page reads from ClickHouse only what is not sealed.\n\n");
    s.push_str("| events in ClickHouse | range | the site's events in the range | page, cold | page, warm p50 | page, warm p95 | target (warm p95) |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for (i, m) in measured.iter().enumerate() {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | ≤ {} |\n",
            millions(m.events),
            m.range,
            m.in_range,
            ms(quantile(&m.cold.page, 0.5)),
            ms(quantile(&m.warm.page, 0.5)),
            ms(page95(m)),
            ms(target_ms(i / RANGES.len()))
        ));
    }
    s.push_str("\n### Per panel\n\nEach panel asked alone (nothing else running), warm p50 / p95, then in brackets its warm p50 within the page (waiting behind the other panels), in milliseconds; the source is the tables that answered (`meta.source`).\n\n| panel | source |");
    for m in measured {
        s.push_str(&format!(" {}, {} |", millions(m.events), m.range));
    }
    s.push_str("\n| --- | --- |");
    s.push_str(&" --- |".repeat(measured.len()));
    s.push('\n');
    for (p, panel) in overview().iter().enumerate() {
        let mut sources: Vec<&str> = measured
            .iter()
            .filter_map(|m| m.sources.get(p).map(String::as_str))
            .collect();
        sources.sort_unstable();
        sources.dedup();
        s.push_str(&format!("| {} | {} |", panel.name, sources.join(", ")));
        for m in measured {
            let alone = m.alone.get(p).map(Vec::as_slice).unwrap_or_default();
            s.push_str(&format!(
                " {:.0} / {:.0} ({:.0}) |",
                quantile(alone, 0.5),
                quantile(alone, 0.95),
                quantile(&m.warm.panels[p].1, 0.5)
            ));
        }
        s.push('\n');
    }
    (row, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&values, 0.5), 51.0);
        assert_eq!(quantile(&values, 0.95), 95.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn the_overview_asks_every_panel() {
        let names: Vec<&str> = overview().iter().map(|p| p.name).collect();
        assert!(names.contains(&"headline figures") && names.contains(&"main chart"));
        assert_eq!(names.len(), 10);
    }
}
