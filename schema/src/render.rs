//! Renders migration templates for one ClickHouse node or for a cluster.
//!
//! Migrations are written once, with placeholders:
//!
//! | placeholder | single node | cluster `c` |
//! | --- | --- | --- |
//! | `${db}` | the database | the database |
//! | `${on_cluster}` | nothing | `ON CLUSTER c` |
//! | `${sharded:t}` | `t` | `t_local` (the shard's replicated table) |
//! | `${engine:E}` | `E` | `ReplicatedE` under `/clickhouse/tables/{shard}/...` |
//! | `${global_engine:E}` | `E` | `ReplicatedE` with one copy on every node |
//! | `${distributed:t:key}` | nothing | a `Distributed` table `t` over `t_local` |
//! | `${retention_months}` | the retention | the retention |

use crate::Retention;
use std::fmt;

/// Where migrations are applied: a database, on one node or on a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    database: String,
    cluster: Option<String>,
}

impl Target {
    pub fn new(database: &str, cluster: Option<&str>) -> Result<Self, RenderError> {
        check_identifier(database)?;
        if let Some(cluster) = cluster {
            check_identifier(cluster)?;
        }
        Ok(Target {
            database: database.to_owned(),
            cluster: cluster.map(str::to_owned),
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// ` ON CLUSTER c` or nothing, to put after a table name in DDL.
    pub fn on_cluster(&self) -> String {
        match &self.cluster {
            Some(cluster) => format!(" ON CLUSTER {cluster}"),
            None => String::new(),
        }
    }
}

/// Names are spliced into DDL, so only plain identifiers are accepted.
fn check_identifier(name: &str) -> Result<(), RenderError> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if valid {
        Ok(())
    } else {
        Err(RenderError::Identifier(name.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("invalid name {0:?}: use letters, digits and underscores, starting with a letter")]
    Identifier(String),
    #[error("unknown placeholder ${{{0}}} in a migration")]
    Placeholder(String),
    #[error("unterminated placeholder in a migration")]
    Unterminated,
}

/// Renders a template into the statements to run, in order.
pub fn render(
    template: &str,
    target: &Target,
    retention: Retention,
) -> Result<Vec<String>, RenderError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or(RenderError::Unterminated)? + start;
        expand(&rest[start + 2..end], target, retention, &mut out)?;
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(statements(&out))
}

fn expand(
    placeholder: &str,
    target: &Target,
    retention: Retention,
    out: &mut String,
) -> Result<(), RenderError> {
    use fmt::Write;
    let db = &target.database;
    let (name, arg) = placeholder.split_once(':').unwrap_or((placeholder, ""));
    let written = match (name, &target.cluster) {
        ("db", _) => write!(out, "{db}"),
        ("retention_months", _) => write!(out, "{}", retention.as_months()),
        ("on_cluster", None) => Ok(()),
        ("on_cluster", Some(cluster)) => write!(out, "ON CLUSTER {cluster}"),
        ("sharded", None) => write!(out, "{arg}"),
        ("sharded", Some(_)) => write!(out, "{arg}_local"),
        ("engine" | "global_engine", None) => write!(out, "{arg}"),
        ("engine" | "global_engine", Some(_)) => {
            let (engine, args) = match arg.split_once('(') {
                Some((engine, args)) => (engine, format!(", {}", args.trim_end_matches(')'))),
                None => (arg, String::new()),
            };
            // {shard}, {replica}, {database} and {table} are ClickHouse macros.
            let path = if name == "engine" { "{shard}" } else { "all" };
            write!(
                out,
                "Replicated{engine}('/clickhouse/tables/{path}/{{database}}/{{table}}', \
                 '{{replica}}'{args})"
            )
        }
        ("distributed", None) => Ok(()),
        ("distributed", Some(cluster)) => {
            let (table, key) = arg
                .split_once(':')
                .ok_or_else(|| RenderError::Placeholder(placeholder.to_owned()))?;
            write!(
                out,
                "CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {cluster} \
                 AS {db}.{table}_local \
                 ENGINE = Distributed({cluster}, {db}, {table}_local, {key})"
            )
        }
        _ => return Err(RenderError::Placeholder(placeholder.to_owned())),
    };
    written.map_err(|_| RenderError::Placeholder(placeholder.to_owned()))
}

/// Splits on `;` at the end of a line, dropping comment lines and empty statements.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with("--") {
            continue;
        }
        let (body, ends) = match trimmed.strip_suffix(';') {
            Some(body) => (body, true),
            None => (trimmed, false),
        };
        // Placeholders that render to nothing leave stray spaces before line ends.
        current.push_str(body.trim_end());
        current.push('\n');
        if ends {
            push_statement(&mut out, &mut current);
        }
    }
    push_statement(&mut out, &mut current);
    out
}

fn push_statement(out: &mut Vec<String>, current: &mut String) {
    let statement = current.trim();
    if !statement.is_empty() {
        out.push(statement.to_owned());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(template: &str, cluster: Option<&str>, expected: &[&str]) {
        let target = Target::new("mesure", cluster).expect("valid target");
        let rendered = render(template, &target, Retention::DEFAULT).expect("renders");
        assert_eq!(rendered, expected);
    }

    #[test]
    fn single_node_drops_cluster_parts() {
        check(
            "-- comment\nCREATE TABLE ${db}.${sharded:t} ${on_cluster}\n(a UInt8)\n\
             ENGINE = ${engine:MergeTree} ORDER BY a\nTTL d + toIntervalMonth(${retention_months});\n\
             \n${distributed:t:rand()};\n",
            None,
            &[
                "CREATE TABLE mesure.t\n(a UInt8)\nENGINE = MergeTree ORDER BY a\n\
               TTL d + toIntervalMonth(6)",
            ],
        );
    }

    #[test]
    fn cluster_uses_replicated_local_tables_and_distributed() {
        check(
            "CREATE TABLE ${db}.${sharded:t} ${on_cluster} (a UInt8) \
             ENGINE = ${engine:ReplacingMergeTree(v)} ORDER BY a;\n${distributed:t:cityHash64(a)};\n",
            Some("main"),
            &[
                "CREATE TABLE mesure.t_local ON CLUSTER main (a UInt8) ENGINE = \
                 ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', \
                 '{replica}', v) ORDER BY a",
                "CREATE TABLE IF NOT EXISTS mesure.t ON CLUSTER main AS mesure.t_local \
                 ENGINE = Distributed(main, mesure, t_local, cityHash64(a))",
            ],
        );
    }

    #[test]
    fn global_engine_is_one_copy_on_every_node() {
        check(
            "ENGINE = ${global_engine:MergeTree};",
            Some("main"),
            &[
                "ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')",
            ],
        );
    }

    #[test]
    fn unknown_or_unterminated_placeholders_are_errors() {
        let target = Target::new("mesure", None).expect("valid target");
        assert_eq!(
            render("${nope}", &target, Retention::DEFAULT),
            Err(RenderError::Placeholder("nope".into()))
        );
        assert_eq!(
            render("${db", &target, Retention::DEFAULT),
            Err(RenderError::Unterminated)
        );
    }

    #[test]
    fn names_must_be_plain_identifiers() {
        for bad in ["", "1abc", "a-b", "a;DROP", "a b", "é"] {
            assert_eq!(
                Target::new(bad, None),
                Err(RenderError::Identifier(bad.into()))
            );
            assert!(Target::new("ok", Some(bad)).is_err());
        }
        assert!(Target::new("_mesure_2", Some("cluster_1")).is_ok());
    }
}
