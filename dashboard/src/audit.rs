//! The audit log: sign-ins (refused ones too), changes to sites, goals and
//! notes, mode changes, tokens and links made, revoked and used, roles and
//! invitations, and exports; who, when, which site, from which truncated
//! address. Rows go to ClickHouse's `audit` (twelve months), written by the
//! dashboard and by the command line, read by admins (their sites) and
//! superusers (everything).
//!
//! A row is written after what it records is done; if ClickHouse refuses
//! it, the action stands, the failure is logged and counted
//! (`mesure_dashboard_audit_errors_total`), so an alert can say the log
//! has a gap.

use crate::app::AppState;
use clickhouse::{Client, Row};
use mesure_sites::SiteRow;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest text kept in a row's actor or detail: a hostile value is cut,
/// never a reason to refuse the row.
pub const MAX_TEXT: usize = 300;
/// Most rows a page shows, and a CSV export holds.
pub const MAX_ROWS: u64 = 100_000;

/// What is recorded: a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInRefused,
    SignOut,
    SiteAdded,
    SiteChanged,
    ModeChanged,
    SiteRemoved,
    GoalSaved,
    GoalRemoved,
    NoteAdded,
    NoteRemoved,
    TokenCreated,
    TokenRevoked,
    TokenUsed,
    LinkCreated,
    LinkRevoked,
    LinkUsed,
    Export,
    UserAdded,
    UserChanged,
    RoleGranted,
    RoleRevoked,
    Invited,
    InvitationRevoked,
    InvitationAccepted,
}

impl Action {
    pub const ALL: [Action; 25] = [
        Action::SignIn,
        Action::SignInRefused,
        Action::SignOut,
        Action::SiteAdded,
        Action::SiteChanged,
        Action::ModeChanged,
        Action::SiteRemoved,
        Action::GoalSaved,
        Action::GoalRemoved,
        Action::NoteAdded,
        Action::NoteRemoved,
        Action::TokenCreated,
        Action::TokenRevoked,
        Action::TokenUsed,
        Action::LinkCreated,
        Action::LinkRevoked,
        Action::LinkUsed,
        Action::Export,
        Action::UserAdded,
        Action::UserChanged,
        Action::RoleGranted,
        Action::RoleRevoked,
        Action::Invited,
        Action::InvitationRevoked,
        Action::InvitationAccepted,
    ];

    /// The name stored, and the key of its label in the catalogues
    /// (`audit-` and the name with `-` for `_`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInRefused => "sign_in_refused",
            Action::SignOut => "sign_out",
            Action::SiteAdded => "site_added",
            Action::SiteChanged => "site_changed",
            Action::ModeChanged => "mode_changed",
            Action::SiteRemoved => "site_removed",
            Action::GoalSaved => "goal_saved",
            Action::GoalRemoved => "goal_removed",
            Action::NoteAdded => "note_added",
            Action::NoteRemoved => "note_removed",
            Action::TokenCreated => "token_created",
            Action::TokenRevoked => "token_revoked",
            Action::TokenUsed => "token_used",
            Action::LinkCreated => "link_created",
            Action::LinkRevoked => "link_revoked",
            Action::LinkUsed => "link_used",
            Action::Export => "export",
            Action::UserAdded => "user_added",
            Action::UserChanged => "user_changed",
            Action::RoleGranted => "role_granted",
            Action::RoleRevoked => "role_revoked",
            Action::Invited => "invited",
            Action::InvitationRevoked => "invitation_revoked",
            Action::InvitationAccepted => "invitation_accepted",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct AuditRow {
    /// Milliseconds since the epoch (`DateTime64(3)`).
    pub at: i64,
    pub action: String,
    pub actor: String,
    pub credential: String,
    pub site_id: String,
    pub address: String,
    pub detail: String,
}

/// Who acted, and how: what every row of one request shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The account's e-mail, or the command line.
    pub name: String,
    /// `token:ID` or `link:ID`; empty for a session.
    pub credential: String,
    /// The client address, truncated; empty from the command line.
    pub address: String,
}

impl Actor {
    /// The command line, named after the system account that ran it.
    pub fn command_line() -> Actor {
        let user = std::env::var("USER").unwrap_or_default();
        Actor {
            name: format!("cli {user}").trim_end().to_owned(),
            ..Actor::default()
        }
    }

    /// The row of `action` on `site_id` (empty: none) at `at_ms`.
    pub fn row(&self, action: Action, site_id: &str, detail: &str, at_ms: i64) -> AuditRow {
        AuditRow {
            at: at_ms,
            action: action.as_str().to_owned(),
            actor: cut(&self.name),
            credential: self.credential.clone(),
            site_id: site_id.to_owned(),
            address: self.address.clone(),
            detail: cut(detail),
        }
    }
}

/// `text` without control characters, at most `MAX_TEXT` characters.
fn cut(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_TEXT)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("the audit log did not answer within {0:?}")]
    Timeout(Duration),
}

/// Writes rows, within `timeout`.
pub async fn write(
    client: &Client,
    rows: &[AuditRow],
    timeout: Duration,
) -> Result<(), AuditError> {
    let work = async {
        let mut insert = client.insert::<AuditRow>("audit").await?;
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok::<_, clickhouse::error::Error>(())
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(done) => Ok(done?),
        Err(_) => Err(AuditError::Timeout(timeout)),
    }
}

/// Writes rows for a request of the dashboard: a failure is logged and
/// counted, and leaves the request as it was.
pub async fn record(state: &AppState, rows: &[AuditRow]) {
    if let Err(error) = write(&state.reader.client, rows, state.timeouts.receive).await {
        state
            .metrics
            .audit_errors
            .inc_by(u64::try_from(rows.len()).unwrap_or(u64::MAX));
        tracing::warn!(%error, rows = rows.len(), "audit rows not written");
    }
}

/// Records one `action` by `actor` on `site_id` for a request.
pub async fn note(state: &AppState, actor: &Actor, action: Action, site_id: &str, detail: &str) {
    record(
        state,
        &[actor.row(action, site_id, detail, (state.now_ms)())],
    )
    .await;
}

/// What a site's new version changes, as audit entries: `site_added`, or
/// `site_changed` naming each changed setting with its old and new value,
/// and `mode_changed` apart, since the mode decides what is collected.
pub fn site_changes(old: Option<&SiteRow>, new: &SiteRow) -> Vec<(Action, String)> {
    let settings = |row: &SiteRow| {
        [
            ("hosts", row.hostnames.join(",")),
            ("time_zone", row.time_zone.clone()),
            ("params", row.allowed_params.join(",")),
            ("events", row.allowed_events.join(",")),
            ("city", row.city.to_string()),
            (
                "matomo_id",
                row.matomo_id.map(|id| id.to_string()).unwrap_or_default(),
            ),
            ("organisation", row.organisation.clone()),
        ]
    };
    let Some(old) = old else {
        let all: Vec<String> = settings(new)
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        return vec![(
            Action::SiteAdded,
            format!("mode={} {}", new.mode.as_str(), all.join(" ")),
        )];
    };
    let mut changes = Vec::new();
    if old.mode != new.mode {
        changes.push((
            Action::ModeChanged,
            format!("{} -> {}", old.mode.as_str(), new.mode.as_str()),
        ));
    }
    let changed: Vec<String> = settings(old)
        .into_iter()
        .zip(settings(new))
        .filter(|((_, was), (_, is))| was != is)
        .map(|((name, was), (_, is))| format!("{name}: {was} -> {is}"))
        .collect();
    if !changed.is_empty() {
        changes.push((Action::SiteChanged, changed.join("; ")));
    }
    changes
}

/// Which rows a reader asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The sites the reader may see the rows of; `None`: every row,
    /// instance-wide ones too (superusers).
    pub sites: Option<Vec<String>>,
    /// One site only.
    pub site: Option<String>,
    /// One action only.
    pub action: Option<Action>,
    /// From and before, in milliseconds.
    pub from_ms: i64,
    pub to_ms: i64,
    pub limit: u64,
}

/// The rows of `filter`, newest first.
pub async fn read(
    client: &Client,
    filter: &Filter,
) -> Result<Vec<AuditRow>, clickhouse::error::Error> {
    let everything = filter.sites.is_none();
    client
        .query(
            "SELECT ?fields FROM audit \
             WHERE at >= fromUnixTimestamp64Milli(?, 'UTC') AND at < fromUnixTimestamp64Milli(?, 'UTC') \
             AND (? OR has(?, site_id)) AND (? = '' OR site_id = ?) AND (? = '' OR action = ?) \
             ORDER BY at DESC LIMIT ?",
        )
        .bind(filter.from_ms)
        .bind(filter.to_ms)
        .bind(everything)
        .bind(filter.sites.clone().unwrap_or_default())
        .bind(filter.site.clone().unwrap_or_default())
        .bind(filter.site.clone().unwrap_or_default())
        .bind(filter.action.map_or("", Action::as_str))
        .bind(filter.action.map_or("", Action::as_str))
        .bind(filter.limit.min(MAX_ROWS))
        .fetch_all()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_name() {
        let names: std::collections::HashSet<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("drop_table"), None);
    }

    #[test]
    fn a_site_change_names_what_changed_and_the_mode_apart() {
        let old = SiteRow::new("s", &["a.fr"]);
        let added = site_changes(None, &old);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].0, Action::SiteAdded);
        assert!(added[0].1.contains("mode=exempt hosts=a.fr"), "{added:?}");
        let mut new = old.clone();
        assert!(site_changes(Some(&old), &new).is_empty());
        new.mode = mesure_sites::Mode::Consent;
        new.hostnames.push("b.fr".into());
        assert_eq!(
            site_changes(Some(&old), &new),
            [
                (Action::ModeChanged, "exempt -> consent".to_owned()),
                (Action::SiteChanged, "hosts: a.fr -> a.fr,b.fr".to_owned()),
            ]
        );
    }

    #[test]
    fn hostile_text_is_cut_and_flattened() {
        let actor = Actor {
            name: format!("a\nb{}", "x".repeat(1000)),
            ..Actor::default()
        };
        let row = actor.row(Action::SignInRefused, "", "<script>\r\n", 1);
        assert_eq!(row.actor.chars().count(), MAX_TEXT);
        assert!(row.actor.starts_with("a b"));
        assert_eq!(row.detail, "<script>  ");
        assert_eq!(row.action, "sign_in_refused");
    }
}
