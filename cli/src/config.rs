//! The configuration: a TOML file (`--config`, `MESURE_CONFIG`, or
//! `mesure.toml` when present) with every key also settable as an environment
//! variable `MESURE_<SECTION>_<KEY>`, e.g. `MESURE_COLLECTOR_LISTEN`.
//! Parsed and validated once; unknown keys are refused by name.

use mesure_accounts::AccountsConfig;
use mesure_collector::config::{CollectorConfig, GeoConfig};
use mesure_collector::spool::SpoolConfig;
use mesure_dashboard::config::DashboardConfig;
use mesure_dashboard::notice::NoticeConfig;
use mesure_dashboard::oidc::OidcConfig;
use mesure_schema::{ClickHouseConfig, Retention};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file looked for when none is named.
pub const DEFAULT_FILE: &str = "mesure.toml";
/// Variables read by Mesure that are not settings.
const NOT_SETTINGS: &[&str] = &["MESURE_CONFIG", "MESURE_LOG"];

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub clickhouse: ClickHouseConfig,
    pub retention: RetentionConfig,
    pub collector: CollectorConfig,
    pub geoip: GeoConfig,
    pub spool: SpoolConfig,
    pub dashboard: DashboardConfig,
    pub accounts: AccountsConfig,
    pub oidc: OidcConfig,
    pub notice: NoticeConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Months raw events and sessions are kept: 1 to 25.
    pub months: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            months: Retention::DEFAULT.as_months(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{origin}: {error}")]
    Parse { origin: String, error: String },
    #[error(
        "unknown setting {0}: settings are MESURE_<SECTION>_<KEY> with a section of clickhouse, retention, collector, geoip, spool, dashboard, accounts, oidc, notice"
    )]
    UnknownVariable(String),
    #[error("{variable}: {error}")]
    Variable { variable: String, error: String },
    #[error("retention: {0}")]
    Retention(#[from] mesure_schema::RetentionError),
    #[error("clickhouse: {0}")]
    Names(#[from] mesure_schema::RenderError),
    #[error(transparent)]
    Timeout(#[from] mesure_schema::TimeoutError),
    #[error(transparent)]
    Collector(#[from] mesure_collector::config::ConfigError),
    #[error(transparent)]
    Dashboard(#[from] mesure_dashboard::config::ConfigError),
    #[error(transparent)]
    Oidc(#[from] mesure_dashboard::oidc::OidcConfigError),
}

impl Config {
    /// Loads the file (if any) and the environment, then validates.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let named = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("MESURE_CONFIG").map(PathBuf::from));
        let path = named.clone().or_else(|| {
            let default = PathBuf::from(DEFAULT_FILE);
            default.exists().then_some(default)
        });
        let mut table = match &path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                    path: path.clone(),
                    error,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Parse {
                        origin: path.display().to_string(),
                        error: e.to_string(),
                    })?
            }
            None => toml::Table::new(),
        };
        overlay_env(&mut table, env)?;
        let origin = path.map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
        let config: Config = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                origin,
                error: e.to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.retention()?;
        self.clickhouse.target()?;
        self.clickhouse.timeouts()?;
        self.collector.validate()?;
        self.spool.validate()?;
        self.dashboard.validate()?;
        self.oidc.validate()?;
        Ok(())
    }

    /// What the privacy notices say: the live configuration.
    pub fn notice_facts(&self) -> Result<mesure_dashboard::notice::Facts, ConfigError> {
        Ok(mesure_dashboard::notice::Facts {
            retention_months: self.retention()?.as_months(),
            ipv4_prefix: self.collector.ipv4_prefix,
            ipv6_prefix: self.collector.ipv6_prefix,
            honors_signals: self.collector.honor_dnt_and_gpc,
            config: self.notice.clone(),
        })
    }

    pub fn retention(&self) -> Result<Retention, mesure_schema::RetentionError> {
        Retention::months(self.retention.months)
    }
}

/// The example configuration: every key with its default and its meaning.
pub const EXAMPLE: &str = include_str!("../../deploy/mesure.example.toml");

/// The configuration reference in Markdown: every key of every section
/// with its type and default (from the configuration types), its
/// environment variable, and its meaning (the example file's comment
/// above it).
pub fn reference() -> String {
    let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
    // Each key of the example in its order, with the comment block above
    // it (shared by the keys that follow it without a blank line).
    let mut keys: Vec<(String, String, String)> = Vec::new();
    let (mut section, mut block, mut current) = (String::new(), Vec::new(), String::new());
    for line in EXAMPLE.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            (block, current) = (Vec::new(), String::new());
        } else if let Some(text) = line.strip_prefix('#') {
            block.push(text.trim().to_owned());
        } else if let Some((key, _)) = line.split_once(" = ") {
            if !block.is_empty() {
                current = block.join(" ");
                block.clear();
            }
            if !section.is_empty() {
                keys.push((section.clone(), key.trim().to_owned(), current.clone()));
            }
        } else if line.is_empty() {
            (block, current) = (Vec::new(), String::new());
        }
    }
    let mut out = String::from(
        "# Configuration reference\n\n\
         Every key of the configuration file (`--config`, `MESURE_CONFIG` or `./mesure.toml`), \
         its type, its default and the environment variable that sets it. Generated by \
         `mesure config --reference` from the configuration types and the comments of \
         `deploy/mesure.example.toml`; `make test` fails when this file is stale.\n",
    );
    let mut previous = "";
    for (name, key, text) in &keys {
        let Some(value) = defaults.get(name).and_then(|s| s.get(key)) else {
            continue;
        };
        if name != previous {
            out.push_str(&format!(
                "\n## `[{name}]`\n\n| key | type | default | environment variable | meaning |\n| --- | --- | --- | --- | --- |\n"
            ));
            previous = name;
        }
        let kind = match value {
            toml::Value::String(_) => "string",
            toml::Value::Integer(_) => "integer",
            toml::Value::Float(_) => "number",
            toml::Value::Boolean(_) => "boolean",
            toml::Value::Array(_) => "list",
            toml::Value::Datetime(_) => "date",
            toml::Value::Table(_) => "table",
        };
        out.push_str(&format!(
            "| `{key}` | {kind} | `{value}` | `MESURE_{}_{}` | {} |\n",
            name.to_ascii_uppercase(),
            key.to_ascii_uppercase(),
            text.replace('|', "\\|")
        ));
    }
    out
}

/// Sets `MESURE_<SECTION>_<KEY>` variables into the table, typed like the
/// key's default value.
fn overlay_env(table: &mut toml::Table, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("MESURE_") else {
            continue;
        };
        if NOT_SETTINGS.contains(&name.as_str()) || rest.starts_with("TEST_") {
            continue;
        }
        let lower = rest.to_ascii_lowercase();
        let Some((section, key)) = defaults
            .keys()
            .filter_map(|s| {
                lower
                    .strip_prefix(&format!("{s}_"))
                    .map(|k| (s.clone(), k.to_owned()))
            })
            .next()
        else {
            return Err(ConfigError::UnknownVariable(name.clone()));
        };
        let default = defaults.get(&section).and_then(|s| s.get(&key));
        let typed = typed_value(value, default).map_err(|error| ConfigError::Variable {
            variable: name.clone(),
            error,
        })?;
        let entry = table
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(section) => {
                section.insert(key, typed);
            }
            _ => {
                return Err(ConfigError::Variable {
                    variable: name.clone(),
                    error: "its section is not a table in the file".into(),
                });
            }
        }
    }
    Ok(())
}

fn typed_value(raw: &str, default: Option<&toml::Value>) -> Result<toml::Value, String> {
    let parse = || {
        format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
    };
    Ok(match default {
        Some(toml::Value::String(_)) => toml::Value::String(raw.to_owned()),
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| format!("{raw:?} is not a whole number"))?,
        ),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(format!("{raw:?} is not true or false")),
        }),
        // Lists: a TOML array, or comma-separated strings.
        Some(toml::Value::Array(_)) => match parse() {
            Some(array @ toml::Value::Array(_)) => array,
            _ => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_owned()))
                    .collect(),
            ),
        },
        _ => parse().unwrap_or_else(|| toml::Value::String(raw.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("mesure-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{}.toml", text.len()));
        std::fs::write(&path, text).expect("write");
        Config::load(Some(&path), &env(vars))
    }

    #[test]
    fn defaults_without_file_or_environment() {
        let config = Config::load(None, &env(&[])).expect("defaults are valid");
        assert_eq!(config.clickhouse.url, "http://127.0.0.1:8123");
        assert_eq!(config.retention.months, 6);
        assert_eq!(config.collector.listen.port(), 8080);
        assert_eq!(config.dashboard.listen.port(), 8081);
    }

    #[test]
    fn file_then_environment() {
        let config = load_text(
            "[clickhouse]\nurl = \"http://ch:8123\"\npassword = \"x\"\n[collector]\nipv4_prefix = 16\n",
            &[
                ("MESURE_CLICKHOUSE_PASSWORD", "123"),
                ("MESURE_COLLECTOR_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.0/16"),
                ("MESURE_COLLECTOR_HONOR_DNT_AND_GPC", "true"),
                ("MESURE_RETENTION_MONTHS", "13"),
                ("MESURE_GEOIP_DATABASES", "[\"a.mmdb\"]"),
                ("MESURE_TEST_CLICKHOUSE_URL", "ignored"),
                ("OTHER", "ignored"),
            ],
        )
        .expect("valid");
        assert_eq!(config.clickhouse.url, "http://ch:8123");
        assert_eq!(config.clickhouse.password, "123");
        assert_eq!(config.collector.ipv4_prefix, 16);
        assert_eq!(config.collector.trusted_proxies.len(), 2);
        assert_eq!(config.retention.months, 13);
        assert_eq!(config.geoip.databases, [PathBuf::from("a.mmdb")]);
    }

    #[test]
    fn the_configuration_reference_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
        mesure_testkit::golden::check(&path, &reference());
    }

    #[test]
    fn the_example_file_is_valid_and_documents_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mesure.example.toml");
        let example = Config::load(Some(&path), &env(&[])).expect("the example loads");
        let mut defaults = toml::Table::try_from(Config::default()).expect("defaults");
        let mut loaded = toml::Table::try_from(example).expect("example");
        // The GeoIP section is the one the example fills in.
        defaults.remove("geoip");
        loaded.remove("geoip");
        assert_eq!(
            loaded, defaults,
            "the example's values must be the defaults"
        );
        let text = std::fs::read_to_string(&path).expect("read example");
        for (section, keys) in &toml::Table::try_from(Config::default()).expect("defaults") {
            for key in keys.as_table().expect("section").keys() {
                assert!(
                    text.contains(&format!("\n{key} = ")),
                    "{section}.{key} is not in the example"
                );
            }
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let error = load_text("[collector]\nlisten_port = 1\n", &[]).expect_err("unknown key");
        assert!(error.to_string().contains("listen_port"), "{error}");
        let error = load_text("[colector]\n", &[]).expect_err("unknown section");
        assert!(error.to_string().contains("colector"), "{error}");
        let error = Config::load(None, &env(&[("MESURE_COLLECTOR_NOPE", "1")]))
            .expect_err("unknown variable");
        assert!(error.to_string().contains("nope"), "{error}");
        let error = Config::load(None, &env(&[("MESURE_NOPE", "1")])).expect_err("unknown section");
        assert!(error.to_string().contains("MESURE_NOPE"), "{error}");
    }

    #[test]
    fn invalid_values_are_refused_with_a_reason() {
        let check = |vars: &[(&str, &str)], expected: &str| {
            let error = Config::load(None, &env(vars)).expect_err("invalid");
            assert!(error.to_string().contains(expected), "{error}");
        };
        check(&[("MESURE_RETENTION_MONTHS", "26")], "26 months refused");
        check(&[("MESURE_RETENTION_MONTHS", "six")], "not a whole number");
        check(&[("MESURE_COLLECTOR_IPV4_PREFIX", "32")], "finer than /24");
        check(&[("MESURE_COLLECTOR_IPV6_PREFIX", "64")], "finer than /48");
        check(&[("MESURE_COLLECTOR_LISTEN", "nowhere")], "listen");
        check(
            &[("MESURE_COLLECTOR_TRUSTED_PROXIES", "not-a-net")],
            "trusted_proxies",
        );
        check(
            &[("MESURE_COLLECTOR_HONOR_DNT_AND_GPC", "maybe")],
            "true or false",
        );
        check(
            &[("MESURE_CLICKHOUSE_DATABASE", "bad-name")],
            "invalid name",
        );
        check(
            &[("MESURE_COLLECTOR_BATCH_ROWS", "0")],
            "collector.batch_rows",
        );
        check(&[("MESURE_SPOOL_MAX_BYTES", "1000")], "spool.max_bytes");
        check(&[("MESURE_SPOOL_FSYNC", "sometimes")], "fsync");
        check(
            &[("MESURE_DASHBOARD_TRUSTED_PROXIES", "not-a-net")],
            "dashboard.trusted_proxies",
        );
        check(
            &[("MESURE_COLLECTOR_FORWARDED_HEADER", "x-real-ip")],
            "forwarded_header",
        );
        check(
            &[("MESURE_CONFIG", "/nonexistent/mesure.toml")],
            "cannot read",
        );
    }
}
