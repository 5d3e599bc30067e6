//! The overview page's weight (`mesure-load weight`): the bytes a browser
//! receives for it, gzipped as the dashboard serves them, response headers
//! included. Cold: the page and every style sheet and script it loads.
//! Warm: the page alone, since assets are served under their content hash
//! as immutable and stay in the browser's cache. Its row and section go into
//! `benches/README.md`.

use crate::dashboard::{Bench, DEMO_DAYS, DEMO_SITES, SITE};
use crate::readme::{WEIGHT, verdict};
use crate::services::{machine, now_utc, repo};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The target: the overview under 150 KB compressed on a first visit.
const TARGET_BYTES: usize = 150_000;

/// One resource as fetched.
#[derive(Debug)]
struct Fetched {
    path: String,
    /// Bytes received with `Accept-Encoding: gzip`, headers included.
    wire: usize,
    /// The body's bytes without compression.
    plain: usize,
    cache: String,
}

/// One answer: every byte received, and the body.
fn get(
    (addr, cookie): (SocketAddr, &str),
    path: &str,
    gzip: bool,
) -> anyhow::Result<(Vec<u8>, String, Vec<u8>)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    // HTTP/1.0: the answer ends with the connection, without chunks.
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: dashboard\r\nCookie: {cookie}\r\nAccept-Language: fr-FR,fr;q=0.9\r\n{}\r\n",
        if gzip {
            "Accept-Encoding: gzip, deflate, br\r\n"
        } else {
            ""
        }
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("{path}: no answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    anyhow::ensure!(head.contains(" 200 "), "{path}: {head}");
    let body = raw[split + 4..].to_vec();
    Ok((raw, head, body))
}

fn header(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
        .unwrap_or_default()
}

fn fetch(addr: (SocketAddr, &str), path: &str) -> anyhow::Result<(Fetched, String)> {
    let (raw, head, _) = get(addr, path, true)?;
    anyhow::ensure!(
        header(&head, "content-encoding") == "gzip",
        "{path} is not gzipped: {head}"
    );
    let (_, _, plain) = get(addr, path, false)?;
    let fetched = Fetched {
        path: path.to_owned(),
        wire: raw.len(),
        plain: plain.len(),
        cache: header(&head, "cache-control"),
    };
    Ok((fetched, String::from_utf8_lossy(&plain).into_owned()))
}

/// Every style sheet and script a page loads from the dashboard.
fn assets(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["href=\"/assets/", "src=\"/assets/"] {
        for (i, _) in html.match_indices(attribute) {
            let rest = &html[i + attribute.len() - "/assets/".len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

pub async fn bench(quick: bool, out: &Path) -> anyhow::Result<()> {
    let events = if quick { 200_000 } else { 1_000_000 };
    let mut bench = Bench::start()?;
    eprintln!("weight bench: demo traffic, {events} events");
    let generated = bench.generate(events, 1)?;
    bench.run(&["seal"])?;
    bench.start_dashboard()?;
    let addr = (bench.dashboard_addr, bench.cookie.as_str());
    let page_path = format!("/sites/{SITE}");
    let (page, html) = fetch(addr, &page_path)?;
    let mut fetched = vec![page];
    for asset in assets(&html) {
        fetched.push(fetch(addr, &asset)?.0);
    }
    bench.dashboard = None;
    drop(bench.clickhouse.take());
    let _ = std::fs::remove_dir_all(&bench.dir);

    let cold: usize = fetched.iter().map(|f| f.wire).sum();
    let warm = fetched[0].wire;
    let met = cold <= TARGET_BYTES;
    let row = format!(
        "{}: the overview, first visit, gzip | ≤ 150 KB, with the chart library and the map | {} cold, {} warm | {} |",
        WEIGHT.row_prefix,
        kb(cold),
        kb(warm),
        verdict(quick, met)
    );
    let mut s = format!(
        "{}\n\nMeasured on {}, on {}. Command: `make bench` (this part alone: `target/release/mesure-load weight`).\n\n",
        WEIGHT.heading,
        now_utc(),
        machine()
    );
    s.push_str(&format!(
        "The overview of `{SITE}` over the last 30 days, in French, over {} events of demo traffic ({DEMO_SITES} sites, {DEMO_DAYS} days), \
         fetched as a browser fetches it: gzipped, response headers included (1 KB = 1,000 bytes). \
         A first visit (cold) loads the page and every asset it names; a next visit (warm) loads the page alone, \
         since assets are served under their content hash as immutable.\n\n",
        generated.events
    ));
    s.push_str("| resource | transferred | uncompressed | cache |\n| --- | --- | --- | --- |\n");
    for f in &fetched {
        s.push_str(&format!(
            "| `{}` | {} | {} | `{}` |\n",
            f.path,
            kb(f.wire),
            kb(f.plain),
            f.cache
        ));
    }
    s.push_str(&format!(
        "| **first visit (cold)** | **{}** | {} | |\n| **next visit (warm)** | **{}** | {} | |\n",
        kb(cold),
        kb(fetched.iter().map(|f| f.plain).sum()),
        kb(warm),
        kb(fetched[0].plain)
    ));
    let path = repo().join(out);
    let readme = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, WEIGHT.splice(&readme, &row, &s))?;
    eprintln!(
        "weight bench: {} cold, {} warm; {} written",
        kb(cold),
        kb(warm),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_its_assets() {
        let html = r#"<link rel="stylesheet" href="/assets/mesure.1.css"><script src="/assets/chart.2.js" defer></script><a href="/sites/x">x</a><link href="/assets/mesure.1.css">"#;
        assert_eq!(assets(html), ["/assets/chart.2.js", "/assets/mesure.1.css"]);
    }
}
