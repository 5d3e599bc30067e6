//! Goals: what counts as a conversion on a site. A goal is a page path
//! pattern (`/inscription`, `/demarches/*` for one segment, `/aide/**` for
//! any depth) or a custom event name. They live in ClickHouse (`goals`),
//! versioned like sites.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

/// One version of a goal, as stored in the `goals` table.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct GoalRow {
    pub site_id: String,
    pub name: String,
    pub page_pattern: String,
    pub event_name: String,
    pub updated_at: i64,
    pub deleted: bool,
}

/// What a goal matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Page views whose path matches the pattern.
    Page(String),
    /// Custom events of this name.
    Event(String),
}

/// A validated goal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    pub site_id: String,
    pub name: String,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoalError {
    #[error("goal name {0:?} is invalid: 1 to 120 printable characters")]
    Name(String),
    #[error("page pattern {0:?} is invalid: a path starting with /, at most 512 characters")]
    Pattern(String),
    #[error("event name {0:?} is invalid: 1 to 120 printable characters")]
    Event(String),
    #[error("give a page pattern or an event name, not both")]
    Target,
}

fn printable(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

impl Goal {
    pub fn from_row(row: &GoalRow) -> Result<Goal, GoalError> {
        if !printable(&row.name, 120) {
            return Err(GoalError::Name(row.name.clone()));
        }
        let target = match (row.page_pattern.is_empty(), row.event_name.is_empty()) {
            (false, true) => {
                let p = &row.page_pattern;
                if !p.starts_with('/') || !printable(p, 512) {
                    return Err(GoalError::Pattern(p.clone()));
                }
                Target::Page(p.clone())
            }
            (true, false) => {
                if !printable(&row.event_name, 120) {
                    return Err(GoalError::Event(row.event_name.clone()));
                }
                Target::Event(row.event_name.clone())
            }
            _ => return Err(GoalError::Target),
        };
        Ok(Goal {
            site_id: row.site_id.clone(),
            name: row.name.clone(),
            target,
        })
    }
}

/// The regular expression (RE2, as ClickHouse's `match` reads it) of a
/// page pattern: `**` any characters, `*` any but `/`, the rest literal.
pub fn pattern_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(".*");
            }
            '*' => out.push_str("[^/]*"),
            c if "\\.+?()[]{}|^$".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

/// The newest version of every goal not deleted. `client` is bound to the
/// Mesure database.
pub async fn load(client: &Client) -> Result<Vec<GoalRow>, clickhouse::error::Error> {
    client
        .query(
            "SELECT ?fields FROM (SELECT * FROM goals ORDER BY site_id, name, updated_at DESC \
             LIMIT 1 BY site_id, name) WHERE NOT deleted ORDER BY site_id, name",
        )
        .fetch_all()
        .await
}

/// Adds or replaces a goal, after validating it.
pub async fn put(client: &Client, mut row: GoalRow) -> Result<(), crate::RegistryError> {
    Goal::from_row(&row).map_err(crate::SiteError::Goal)?;
    row.updated_at = crate::now_millis();
    row.deleted = false;
    write(client, &row).await
}

/// Removes a goal.
pub async fn remove(
    client: &Client,
    site_id: &str,
    name: &str,
) -> Result<(), crate::RegistryError> {
    let row = GoalRow {
        site_id: site_id.to_owned(),
        name: name.to_owned(),
        page_pattern: String::new(),
        event_name: String::new(),
        updated_at: crate::now_millis(),
        deleted: true,
    };
    write(client, &row).await
}

async fn write(client: &Client, row: &GoalRow) -> Result<(), crate::RegistryError> {
    Ok(crate::insert_one(client, "goals", row).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, page: &str, event: &str) -> GoalRow {
        GoalRow {
            site_id: "s".into(),
            name: name.into(),
            page_pattern: page.into(),
            event_name: event.into(),
            updated_at: 0,
            deleted: false,
        }
    }

    #[test]
    fn goals_are_validated() {
        assert!(Goal::from_row(&row("Inscription", "/inscription", "")).is_ok());
        assert!(Goal::from_row(&row("Formulaire", "", "Formulaire envoyé")).is_ok());
        assert_eq!(Goal::from_row(&row("x", "/a", "b")), Err(GoalError::Target));
        assert_eq!(Goal::from_row(&row("x", "", "")), Err(GoalError::Target));
        assert!(Goal::from_row(&row("x", "inscription", "")).is_err());
        assert!(Goal::from_row(&row("", "/a", "")).is_err());
        assert!(Goal::from_row(&row("a\nb", "/a", "")).is_err());
    }

    #[test]
    fn patterns_become_anchored_regexes() {
        assert_eq!(pattern_regex("/inscription"), "^/inscription$");
        assert_eq!(pattern_regex("/demarches/*"), "^/demarches/[^/]*$");
        assert_eq!(pattern_regex("/aide/**"), "^/aide/.*$");
        assert_eq!(pattern_regex("/a.b?(c)"), "^/a\\.b\\?\\(c\\)$");
    }
}
