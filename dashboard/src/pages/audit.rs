//! `/audit`: the audit log, for a site's admins (the rows of the sites they
//! administer) and superusers (every row, sign-ins too); `/audit/csv` the
//! same rows as CSV. Filtered by site, action and UTC dates.

use super::i18n::{Arg, Lang};
use super::view::View;
use super::{Account, error_page, html, language, page, to_sign_in};
use crate::api::ApiError;
use crate::app::{AppState, attachment, count, registry};
use crate::audit::{self, Action, AuditRow, Filter};
use crate::auth::{self, Viewer};
use crate::export::cell;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Days, NaiveDate};
use maud::html;
use mesure_accounts::Role;
use std::time::Instant;

/// Rows a page shows; the CSV holds up to `audit::MAX_ROWS`.
pub const PAGE_ROWS: u64 = 500;
/// The longest period asked at once.
const MAX_DAYS: u64 = 400;

/// What a reader asks: a site or all, an action or all, UTC dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub site: String,
    pub action: Option<Action>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub lang: Option<Lang>,
}

impl Asked {
    /// Reads `site`, `action`, `from`, `to` (YYYY-MM-DD) and `lang`; the last
    /// 30 days by default.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Asked, ApiError> {
        let mut asked = Asked {
            site: String::new(),
            action: None,
            from: today - Days::new(29),
            to: today,
            lang: None,
        };
        let bad = |what: String| ApiError::BadRequest(what);
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let date = || {
                NaiveDate::parse_from_str(&value, "%Y-%m-%d")
                    .map_err(|_| bad(format!("{key} {value:?}")))
            };
            match key.as_ref() {
                "site" => asked.site = value.into_owned(),
                "action" if value.is_empty() => asked.action = None,
                "action" => {
                    asked.action = Some(
                        Action::parse(&value).ok_or_else(|| bad(format!("action {value:?}")))?,
                    );
                }
                "from" => asked.from = date()?,
                "to" => asked.to = date()?,
                "lang" => asked.lang = Lang::from_code(&value),
                _ => return Err(bad(format!("{key:?}"))),
            }
        }
        let days = (asked.to - asked.from).num_days();
        if days < 0 || days >= i64::try_from(MAX_DAYS).unwrap_or(i64::MAX) {
            return Err(bad(format!(
                "from {} to {}: at most {MAX_DAYS} days, in order",
                asked.from, asked.to
            )));
        }
        Ok(asked)
    }

    fn query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("site", &self.site);
        query.append_pair("action", self.action.map_or("", Action::as_str));
        query.append_pair("from", &self.from.to_string());
        query.append_pair("to", &self.to.to_string());
        if let Some(lang) = self.lang {
            query.append_pair("lang", lang.code());
        }
        query.finish()
    }
}

fn millis(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

/// The sites whose rows `viewer` reads, `None` for every row (a
/// superuser); refused to one who administers nothing.
fn readable(state: &AppState, viewer: &Viewer) -> Result<Option<Vec<String>>, ApiError> {
    if viewer.access.superuser {
        return Ok(None);
    }
    let (sites, _) = registry(state)?;
    let mut ids: Vec<String> = sites
        .iter()
        .filter(|s| viewer.role(s) == Some(Role::Admin))
        .map(|s| s.id.to_string())
        .collect();
    if ids.is_empty() {
        return Err(ApiError::Refused {
            status: StatusCode::FORBIDDEN,
            key: "error-not-admin",
            detail: "the audit log is for administrators".into(),
        });
    }
    ids.sort();
    Ok(Some(ids))
}

/// Reads the rows of a request, or the answer to give instead.
async fn rows_of(
    state: &AppState,
    (uri, raw): (&Uri, Option<&str>),
    headers: &HeaderMap,
    limit: u64,
) -> Result<(Viewer, Asked, Option<Vec<String>>, Vec<AuditRow>), Result<Response, ApiError>> {
    let now = (state.now_ms)();
    let today = DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .date_naive();
    let asked = Asked::parse(raw.unwrap_or(""), today).map_err(Err)?;
    let viewer = match auth::viewer(state, headers).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) => return Err(Ok(to_sign_in(uri))),
        Err(error) => return Err(Err(error)),
    };
    let sites = readable(state, &viewer).map_err(Err)?;
    if !asked.site.is_empty() && sites.as_ref().is_some_and(|s| !s.contains(&asked.site)) {
        return Err(Err(ApiError::UnknownSite));
    }
    let filter = Filter {
        sites: sites.clone(),
        site: (!asked.site.is_empty()).then(|| asked.site.clone()),
        action: asked.action,
        from_ms: millis(asked.from),
        to_ms: millis(asked.to + Days::new(1)),
        limit,
    };
    let read = audit::read(&state.reader.client, &filter);
    let rows = match tokio::time::timeout(state.timeouts.receive, read).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(error)) => return Err(Err(ApiError::Unavailable(error.to_string()))),
        Err(_) => return Err(Err(ApiError::Unavailable("audit log timed out".into()))),
    };
    Ok((viewer, asked, sites, rows))
}

/// A row's time, UTC, to the second.
fn when(row: &AuditRow) -> String {
    DateTime::from_timestamp_millis(row.at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// An action's label in the page's language.
fn action_label(lang: Lang, action: &str) -> String {
    match Action::parse(action) {
        Some(action) => lang.t(&format!("audit-{}", action.as_str().replace('_', "-"))),
        None => action.to_owned(),
    }
}

/// `GET /audit`.
pub async fn page_of(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let response = match rows_of(&state, (&uri, raw.as_deref()), &headers, PAGE_ROWS).await {
        Ok((viewer, asked, sites, rows)) => {
            let lang = asked.lang.unwrap_or(lang);
            let body = markup(lang, &asked, sites.as_deref(), &rows, &Account::of(&viewer));
            page(StatusCode::OK, lang, body)
        }
        Err(Ok(response)) => response,
        Err(Err(error)) => error_page(&error, lang),
    };
    count(&state, "admin", started, &response);
    response
}

/// `GET /audit/csv`.
pub async fn csv(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let response = match rows_of(&state, (&uri, raw.as_deref()), &headers, audit::MAX_ROWS).await {
        Ok((viewer, asked, _, rows)) => {
            let mut out = String::from("at,action,actor,credential,site_id,address,detail\r\n");
            for row in &rows {
                let line = [
                    when(row).as_str(),
                    &row.action,
                    &row.actor,
                    &row.credential,
                    &row.site_id,
                    &row.address,
                    &row.detail,
                ]
                .map(cell)
                .join(",");
                out.push_str(&line);
                out.push_str("\r\n");
            }
            let name = format!("mesure-audit-{}-{}.csv", asked.from, asked.to);
            audit::note(&state, &viewer.actor, Action::Export, &asked.site, &name).await;
            attachment("text/csv; charset=utf-8", &name, out.into_bytes())
        }
        Err(Ok(response)) => response,
        Err(Err(error)) => error_page(&error, lang),
    };
    count(&state, "admin", started, &response);
    response
}

fn markup(
    lang: Lang,
    asked: &Asked,
    sites: Option<&[String]>,
    rows: &[AuditRow],
    account: &Account,
) -> String {
    let all_sites: Vec<String>;
    let sites = match sites {
        Some(sites) => sites,
        None => {
            all_sites = rows
                .iter()
                .map(|r| r.site_id.clone())
                .chain((!asked.site.is_empty()).then(|| asked.site.clone()))
                .filter(|s| !s.is_empty())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            &all_sites
        }
    };
    let body = html! {
        h1 { (lang.t("audit-title")) }
        p { (lang.t("audit-intro")) }
        form.card method="get" action="/audit" {
            @if let Some(chosen) = asked.lang {
                input type="hidden" name="lang" value=(chosen.code());
            }
            label { (lang.t("audit-site")) " "
                select name="site" {
                    option value="" selected[asked.site.is_empty()] { (lang.t("audit-all")) }
                    @for site in sites {
                        option value=(site) selected[*site == asked.site] { (site) }
                    }
                }
            }
            " "
            label { (lang.t("audit-action")) " "
                select name="action" {
                    option value="" selected[asked.action.is_none()] { (lang.t("audit-all")) }
                    @for action in Action::ALL {
                        option value=(action.as_str()) selected[asked.action == Some(action)] { (action_label(lang, action.as_str())) }
                    }
                }
            }
            " "
            label { (lang.t("period-from")) " " input type="date" name="from" value=(asked.from.to_string()) required; }
            " "
            label { (lang.t("period-to")) " " input type="date" name="to" value=(asked.to.to_string()) required; }
            " "
            button type="submit" { (lang.t("audit-show")) }
        }
        p {
            a href=(format!("/audit/csv?{}", asked.query())) download { (lang.t("audit-csv")) }
        }
        @if rows.is_empty() {
            p { (lang.t("audit-empty")) }
        } @else {
            div.scroll {
                table #audit {
                    caption { (lang.t_with("audit-caption", &[("count", Arg::Count(rows.len() as u64))])) }
                    thead { tr {
                        th scope="col" { (lang.t("audit-when")) }
                        th scope="col" { (lang.t("audit-action")) }
                        th scope="col" { (lang.t("audit-who")) }
                        th scope="col" { (lang.t("audit-site")) }
                        th scope="col" { (lang.t("audit-address")) }
                        th scope="col" { (lang.t("audit-detail")) }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { time datetime=(when(row).replace(' ', "T") + "Z") { (when(row)) } }
                                td { (action_label(lang, &row.action)) }
                                td { (row.actor) @if !row.credential.is_empty() { br; span.muted { (row.credential) } } }
                                td { (row.site_id) }
                                td { (row.address) }
                                td { (row.detail) }
                            }
                        }
                    }
                }
            }
            @if rows.len() as u64 == PAGE_ROWS {
                p.note { (lang.t_with("audit-more", &[("count", Arg::Count(PAGE_ROWS))])) }
            }
        }
        p.note { (lang.t("audit-kept")) }
    };
    html::layout(
        lang,
        (&lang.t("audit-title"), "/audit"),
        &View {
            lang: asked.lang,
            ..View::default()
        },
        Some(account),
        html! {},
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_request_names_known_things_within_a_bounded_period() {
        let today = day("2026-06-15");
        let asked = Asked::parse("", today).expect("default");
        assert_eq!((asked.from, asked.to), (day("2026-05-17"), today));
        let asked = Asked::parse("site=a&action=export&from=2026-01-01&to=2026-01-31", today)
            .expect("valid");
        assert_eq!(asked.action, Some(Action::Export));
        assert_eq!(Asked::parse(&asked.query(), today).expect("again"), asked);
        for bad in [
            "action=drop",
            "from=2026-02-01&to=2026-01-01",
            "from=2020-01-01&to=2026-01-01",
            "from=yesterday",
            "other=1",
        ] {
            assert!(Asked::parse(bad, today).is_err(), "{bad}");
        }
    }
}
