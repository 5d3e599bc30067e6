//! The real PostgreSQL server of the accounts tests (Debian's package,
//! through `scripts/local-postgres.sh`). `make test` starts one for the
//! whole run and names it in `MESURE_TEST_POSTGRES_URL`; without it, the
//! first test that needs one starts a private server that stops with the
//! test process. Each test works in a database of its own. A test never
//! skips: without the server it fails and says how to install it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// Environment variable naming a running PostgreSQL server to use.
pub const URL_ENV: &str = "MESURE_TEST_POSTGRES_URL";

#[derive(Debug)]
pub struct LocalPostgres {
    /// `postgres://USER@HOST:PORT/postgres`.
    url: String,
    _child: Option<Child>,
}

impl LocalPostgres {
    /// The server shared by every test of this process.
    pub fn shared() -> &'static LocalPostgres {
        static SERVER: OnceLock<LocalPostgres> = OnceLock::new();
        SERVER.get_or_init(|| match std::env::var(URL_ENV) {
            Ok(url) if !url.is_empty() => LocalPostgres { url, _child: None },
            _ => Self::spawn(),
        })
    }

    fn spawn() -> LocalPostgres {
        let script = crate::repo_root().join("scripts/local-postgres.sh");
        let mut child = Command::new(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("postgres://"),
            "the local PostgreSQL did not start ({line:?}): run `make setup`, or `make test`, \
             which installs Debian's postgresql package"
        );
        LocalPostgres {
            url,
            _child: Some(child),
        }
    }

    /// A new, empty database of this server; its URL.
    pub fn database(&self, prefix: &str) -> String {
        let name = crate::LocalClickHouse::unique_database(prefix);
        let created = Command::new("psql")
            .args([&self.url, "-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .status()
            .unwrap_or_else(|e| panic!("psql (Debian's postgresql-client): {e}"));
        assert!(created.success(), "CREATE DATABASE {name} failed");
        let base = self
            .url
            .rsplit_once('/')
            .map_or(self.url.as_str(), |(base, _)| base);
        format!("{base}/{name}")
    }
}
