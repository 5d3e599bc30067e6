//! A site's settings, for its admins: hosts, mode, time zone, kept query
//! parameters, allowed events, city precision, Matomo id, and its goals;
//! and a new site, for superusers. Everything is written to ClickHouse's
//! `sites` and `goals`, which running collectors reload, and recorded in
//! the audit log; the dashboard's own registry is reloaded at once. A
//! refused value shows the form again with what was typed and why.

use super::annotate::{admin_form, field, session_form};
use super::i18n::{Arg, Lang};
use super::view::View;
use super::{Account, admin_page, admin_post, administered_site, html, page, see_other};
use crate::annotations;
use crate::api::ApiError;
use crate::app::AppState;
use crate::audit::{self, Action};
use crate::auth::Viewer;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use mesure_sites::goals::{self, GoalError, GoalRow};
use mesure_sites::{Mode, RegistryError, SiteError, SiteRow};

/// Entries a list field (hosts, parameters, events) may hold.
pub const MAX_ENTRIES: usize = 100;
/// Goals a site may have.
pub const MAX_GOALS: usize = 100;

/// A site's settings as the form holds them: what was typed, kept to be
/// shown again when refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteForm {
    pub id: String,
    pub hosts: String,
    pub mode: Mode,
    pub time_zone: String,
    pub params: String,
    pub events: String,
    pub city: bool,
    pub matomo_id: String,
    pub organisation: String,
}

/// Why a form was refused: a message of the catalogues and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub key: &'static str,
    pub value: String,
}

impl Refusal {
    fn of_site(error: &SiteError) -> Refusal {
        let (key, value) = match error {
            SiteError::Id(v) => ("site-error-id", v.clone()),
            SiteError::NoHostname(_) => ("site-error-no-host", String::new()),
            SiteError::Hostname(v) => ("site-error-host", v.clone()),
            SiteError::Param(v) => ("site-error-param", v.clone()),
            SiteError::CampaignParam(v) => ("site-error-campaign", v.clone()),
            SiteError::Event(v) => ("site-error-event", v.clone()),
            SiteError::TooManyEvents => ("site-error-events", String::new()),
            SiteError::Organisation(v) => ("site-error-organisation", v.clone()),
            SiteError::TimeZone(v) => ("site-error-time-zone", v.clone()),
            SiteError::HostTaken { host, .. } => ("site-error-host-taken", host.clone()),
            SiteError::MatomoIdTaken { id, .. } => ("site-error-matomo-taken", id.to_string()),
            SiteError::Goal(GoalError::Name(v)) => ("goal-error-name", v.clone()),
            SiteError::Goal(GoalError::Pattern(v)) => ("goal-error-page", v.clone()),
            SiteError::Goal(GoalError::Event(v)) => ("goal-error-event", v.clone()),
            SiteError::Goal(GoalError::Target) => ("goal-error-target", String::new()),
        };
        Refusal { key, value }
    }

    fn text(&self, lang: Lang) -> String {
        lang.t_with(self.key, &[("value", Arg::Text(self.value.clone()))])
    }
}

/// A list typed one per line (or separated by commas): trimmed, without
/// empties or repeats.
fn list(text: &str) -> Result<Vec<String>, Refusal> {
    let mut out: Vec<String> = Vec::new();
    for entry in text.split(['\n', ',']).map(str::trim) {
        if !entry.is_empty() && !out.iter().any(|e| e == entry) {
            out.push(entry.to_owned());
        }
    }
    if out.len() > MAX_ENTRIES {
        return Err(Refusal {
            key: "site-error-entries",
            value: MAX_ENTRIES.to_string(),
        });
    }
    Ok(out)
}

impl SiteForm {
    pub fn of_row(row: &SiteRow) -> SiteForm {
        SiteForm {
            id: row.site_id.clone(),
            hosts: row.hostnames.join("\n"),
            mode: row.mode,
            time_zone: row.time_zone.clone(),
            params: row.allowed_params.join("\n"),
            events: row.allowed_events.join("\n"),
            city: row.city,
            matomo_id: row.matomo_id.map(|id| id.to_string()).unwrap_or_default(),
            organisation: row.organisation.clone(),
        }
    }

    /// The form as posted for site `id`.
    pub fn posted(id: &str, fields: &[(String, String)]) -> SiteForm {
        SiteForm {
            id: id.to_owned(),
            hosts: field(fields, "hosts").to_owned(),
            mode: Mode::parse(field(fields, "mode")).unwrap_or(Mode::Exempt),
            time_zone: field(fields, "time_zone").to_owned(),
            params: field(fields, "params").to_owned(),
            events: field(fields, "events").to_owned(),
            city: field(fields, "city") == "on",
            matomo_id: field(fields, "matomo_id").trim().to_owned(),
            organisation: field(fields, "organisation").trim().to_owned(),
        }
    }

    /// The row to write, checked as the collectors check it.
    pub fn row(&self) -> Result<SiteRow, Refusal> {
        let matomo_id = match self.matomo_id.as_str() {
            "" => None,
            text => Some(text.parse::<u32>().map_err(|_| Refusal {
                key: "site-error-matomo",
                value: text.to_owned(),
            })?),
        };
        let row = SiteRow {
            site_id: self.id.clone(),
            hostnames: list(&self.hosts)?,
            time_zone: self.time_zone.trim().to_owned(),
            mode: self.mode,
            allowed_params: list(&self.params)?,
            allowed_events: list(&self.events)?,
            city: self.city,
            matomo_id,
            organisation: self.organisation.clone(),
            updated_at: 0,
            deleted: false,
        };
        mesure_sites::writable(&row).map_err(|e| Refusal::of_site(&e))?;
        if row.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Refusal::of_site(&SiteError::TimeZone(row.time_zone)));
        }
        Ok(row)
    }
}

/// The stored version of site `id`, if any.
async fn stored(state: &AppState, id: &str) -> Result<Option<SiteRow>, ApiError> {
    let load = mesure_sites::load(&state.reader.client);
    let rows = within(state, load).await?;
    Ok(rows.into_iter().find(|row| row.site_id == id))
}

async fn site_goals(state: &AppState, id: &str) -> Result<Vec<GoalRow>, ApiError> {
    let load = async { Ok::<_, RegistryError>(goals::load(&state.reader.client).await?) };
    let rows = within(state, load).await?;
    Ok(rows.into_iter().filter(|g| g.site_id == id).collect())
}

/// Runs registry work within the receive timeout.
async fn within<T, E: std::fmt::Display>(
    state: &AppState,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(state.timeouts.receive, work).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(error)) => Err(ApiError::Unavailable(error.to_string())),
        Err(_) => Err(ApiError::Unavailable("clickhouse timed out".into())),
    }
}

/// Reloads the registry so that the next page shows what was written.
async fn reload(state: &AppState) {
    let work = crate::service::reload(&state.reader.client, &state.registry, &state.goals);
    if let Err(error) = within(state, work).await {
        tracing::warn!(?error, "registry not reloaded after a change");
    }
}

/// What the settings page shows besides the form.
struct Shown<'a> {
    lang: Lang,
    account: &'a Account,
    /// `None`: a new site (its id is typed).
    goals: Option<&'a [GoalRow]>,
    /// The organisation may be changed (superusers).
    organisation: bool,
    message: Option<(bool, String)>,
}

/// The settings page of `form` for `viewer`: a site's with its `goals`, or
/// a new one's (`None`), with a message (`true`: done).
fn settings_page(
    (status, lang): (StatusCode, Lang),
    viewer: &Viewer,
    (form, goals): (&SiteForm, Option<&[GoalRow]>),
    message: Option<(bool, String)>,
) -> Response {
    let shown = Shown {
        lang,
        account: &Account::of(viewer),
        goals,
        organisation: viewer.access.superuser,
        message,
    };
    page(status, lang, markup(form, &shown))
}

/// `GET /sites/{id}/settings`.
pub async fn form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &state;
    let saved =
        form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()).any(|(k, _)| k == "saved");
    admin_page(
        state,
        (&uri, raw.as_deref()),
        &headers,
        async |viewer, lang| {
            administered_site(state, &viewer, &id)?;
            let row = stored(state, &id).await?.ok_or(ApiError::UnknownSite)?;
            let goals = site_goals(state, &id).await?;
            let message = saved.then(|| (true, lang.t("settings-saved")));
            let form = (&SiteForm::of_row(&row), Some(goals.as_slice()));
            Ok(settings_page(
                (StatusCode::OK, lang),
                &viewer,
                form,
                message,
            ))
        },
    )
    .await
}

/// `POST /sites/{id}/settings`: the form's fields and `csrf`.
pub async fn save(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, lang| {
        let (viewer, site) = admin_form(state, &id, &headers, &fields).await?;
        let old = stored(state, &site.id)
            .await?
            .ok_or(ApiError::UnknownSite)?;
        let mut form = SiteForm::posted(&site.id, &fields);
        // Only a superuser moves a site to another organisation (whose
        // admins would then see it).
        if !viewer.access.superuser {
            form.organisation.clone_from(&old.organisation);
        }
        write_site(state, &viewer, (Some(&old), form), lang).await
    })
    .await
}

/// Writes a site from its form, or shows the form again with the reason.
async fn write_site(
    state: &AppState,
    viewer: &Viewer,
    (old, form): (Option<&SiteRow>, SiteForm),
    lang: Lang,
) -> Result<Response, ApiError> {
    let goals = match old {
        Some(_) => Some(site_goals(state, &form.id).await?),
        None => None,
    };
    let refused = |refusal: Refusal| {
        let status = (StatusCode::BAD_REQUEST, lang);
        let message = Some((false, refusal.text(lang)));
        settings_page(status, viewer, (&form, goals.as_deref()), message)
    };
    let row = match form.row() {
        Ok(row) => row,
        Err(refusal) => return Ok(refused(refusal)),
    };
    let put = mesure_sites::put(&state.reader.client, row.clone());
    match tokio::time::timeout(state.timeouts.receive, put).await {
        Ok(Ok(())) => {}
        // ClickHouse knows fewer time zones than the form may offer, and
        // another site may have one of the hosts or the Matomo id.
        Ok(Err(RegistryError::Site(error))) => return Ok(refused(Refusal::of_site(&error))),
        Ok(Err(error)) => return Err(ApiError::Unavailable(error.to_string())),
        Err(_) => return Err(ApiError::Unavailable("clickhouse timed out".into())),
    }
    for (action, detail) in audit::site_changes(old, &row) {
        audit::note(state, &viewer.actor, action, &row.site_id, &detail).await;
    }
    if let Some(old) = old.filter(|old| old.mode != row.mode) {
        let client = &state.reader.client;
        let marked = annotations::mark_mode_change(client, &row, old.mode, (state.now_ms)());
        if let Err(error) = within(state, marked).await {
            tracing::warn!(?error, "mode change not marked on the chart");
        }
    }
    reload(state).await;
    Ok(see_other(&format!(
        "/sites/{}/settings?saved=1",
        row.site_id
    )))
}

/// `GET /sites/new`: a new site, for superusers.
pub async fn new_form(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    admin_page(
        &state,
        (&uri, raw.as_deref()),
        &headers,
        async |viewer, lang| {
            superuser(&viewer)?;
            let form = SiteForm::of_row(&SiteRow::new("", &[]));
            Ok(settings_page(
                (StatusCode::OK, lang),
                &viewer,
                (&form, None),
                None,
            ))
        },
    )
    .await
}

fn superuser(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.access.superuser {
        Ok(())
    } else {
        Err(ApiError::Refused {
            status: StatusCode::FORBIDDEN,
            key: "error-not-superuser",
            detail: "this needs the instance's superuser".into(),
        })
    }
}

/// `POST /sites/new`: `id`, the settings, `csrf`.
pub async fn add(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, lang| {
        let viewer = session_form(state, &headers, &fields).await?;
        superuser(&viewer)?;
        let id = field(&fields, "id").trim().to_owned();
        let form = SiteForm::posted(&id, &fields);
        // `/sites/new` is this form: no site may hide behind it; and an
        // id is taken once.
        let taken = if id == "new" {
            Some((
                StatusCode::BAD_REQUEST,
                Refusal::of_site(&SiteError::Id(id.clone())),
            ))
        } else if stored(state, &id).await?.is_some() {
            let refusal = Refusal {
                key: "site-error-exists",
                value: id.clone(),
            };
            Some((StatusCode::CONFLICT, refusal))
        } else {
            None
        };
        if let Some((status, refusal)) = taken {
            let message = Some((false, refusal.text(lang)));
            return Ok(settings_page(
                (status, lang),
                &viewer,
                (&form, None),
                message,
            ));
        }
        write_site(state, &viewer, (None, form), lang).await
    })
    .await
}

/// `POST /sites/{id}/goals`: `name`, `kind` (`page` or `event`), `target`.
pub async fn add_goal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, lang| {
        let (viewer, site) = admin_form(state, &id, &headers, &fields).await?;
        let (name, target) = (
            field(&fields, "name").trim(),
            field(&fields, "target").trim(),
        );
        let page_goal = field(&fields, "kind") != "event";
        let (page_pattern, event_name) = if page_goal {
            (target.to_owned(), String::new())
        } else {
            (String::new(), target.to_owned())
        };
        let row = GoalRow {
            site_id: site.id.to_string(),
            name: name.to_owned(),
            page_pattern,
            event_name,
            updated_at: 0,
            deleted: false,
        };
        let goals = site_goals(state, &site.id).await?;
        let refusal = if goals.len() >= MAX_GOALS && !goals.iter().any(|g| g.name == name) {
            Some(Refusal {
                key: "goal-error-full",
                value: MAX_GOALS.to_string(),
            })
        } else {
            goals::Goal::from_row(&row)
                .err()
                .map(|e| Refusal::of_site(&SiteError::Goal(e)))
        };
        if let Some(refusal) = refusal {
            let old = stored(state, &site.id)
                .await?
                .ok_or(ApiError::UnknownSite)?;
            let form = (&SiteForm::of_row(&old), Some(goals.as_slice()));
            let message = Some((false, refusal.text(lang)));
            return Ok(settings_page(
                (StatusCode::BAD_REQUEST, lang),
                &viewer,
                form,
                message,
            ));
        }
        let kind = if page_goal { "page" } else { "event" };
        let detail = format!("{name}: {kind}={target}");
        within(state, goals::put(&state.reader.client, row)).await?;
        audit::note(state, &viewer.actor, Action::GoalSaved, &site.id, &detail).await;
        reload(state).await;
        Ok(see_other(&format!(
            "/sites/{}/settings?saved=1#goals",
            site.id
        )))
    })
    .await
}

/// `POST /sites/{id}/goals/delete`: `name`.
pub async fn remove_goal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, _| {
        let (viewer, site) = admin_form(state, &id, &headers, &fields).await?;
        let name = field(&fields, "name");
        let goals = site_goals(state, &site.id).await?;
        if !goals.iter().any(|g| g.name == name) {
            return Err(ApiError::Refused {
                status: StatusCode::NOT_FOUND,
                key: "goal-error-unknown",
                detail: "this site has no such goal".into(),
            });
        }
        within(state, goals::remove(&state.reader.client, &site.id, name)).await?;
        audit::note(state, &viewer.actor, Action::GoalRemoved, &site.id, name).await;
        reload(state).await;
        Ok(see_other(&format!(
            "/sites/{}/settings?saved=1#goals",
            site.id
        )))
    })
    .await
}

fn markup(form: &SiteForm, shown: &Shown) -> String {
    let lang = shown.lang;
    let new = shown.goals.is_none();
    let (title, here) = if new {
        (lang.t("settings-new-title"), "/sites/new".to_owned())
    } else {
        (
            lang.t_with("settings-title", &[("site", Arg::Text(form.id.clone()))]),
            format!("/sites/{}/settings", form.id),
        )
    };
    let csrf = &shown.account.csrf;
    let body = html! {
        h1 { (title) }
        @if !new {
            p { a href=(format!("/sites/{}", form.id)) { (lang.t("settings-back")) } }
        }
        @if let Some((ok, message)) = &shown.message {
            p.message role=(if *ok { "status" } else { "alert" }) { (message) }
        }
        form.card.settings method="post" action=(here) {
            input type="hidden" name="csrf" value=(csrf);
            @if new {
                label for="id" { (lang.t("settings-id")) }
                input #id name="id" value=(form.id) required maxlength="64" pattern="[a-z0-9._\\-]+" aria-describedby="id-help";
                p.help #id-help { (lang.t("settings-id-help")) }
            }
            label for="hosts" { (lang.t("settings-hosts")) }
            textarea #hosts name="hosts" rows="3" required aria-describedby="hosts-help" { (form.hosts) }
            p.help #hosts-help { (lang.t("settings-hosts-help")) }
            fieldset {
                legend { (lang.t("settings-mode")) }
                @for (mode, help) in [(Mode::Exempt, "settings-mode-exempt"), (Mode::Consent, "settings-mode-consent")] {
                    label.choice {
                        input type="radio" name="mode" value=(mode.as_str()) checked[form.mode == mode];
                        " " (lang.t(help))
                    }
                }
            }
            label for="time_zone" { (lang.t("settings-time-zone")) }
            select #time_zone name="time_zone" {
                @for tz in chrono_tz::TZ_VARIANTS {
                    option value=(tz.name()) selected[tz.name() == form.time_zone] { (tz.name()) }
                }
            }
            label for="params" { (lang.t("settings-params")) }
            textarea #params name="params" rows="2" aria-describedby="params-help" { (form.params) }
            p.help #params-help { (lang.t("settings-params-help")) }
            label for="events" { (lang.t("settings-events")) }
            textarea #events name="events" rows="3" aria-describedby="events-help" { (form.events) }
            p.help #events-help { (lang.t("settings-events-help")) }
            label.choice {
                input type="checkbox" name="city" checked[form.city];
                " " (lang.t("settings-city"))
            }
            label for="matomo_id" { (lang.t("settings-matomo")) }
            input #matomo_id name="matomo_id" inputmode="numeric" value=(form.matomo_id) aria-describedby="matomo-help";
            p.help #matomo-help { (lang.t("settings-matomo-help")) }
            label for="organisation" { (lang.t("settings-organisation")) }
            @if shown.organisation {
                input #organisation name="organisation" value=(form.organisation) maxlength="120";
            } @else {
                input #organisation value=(form.organisation) readonly aria-describedby="organisation-help";
                p.help #organisation-help { (lang.t("settings-organisation-help")) }
            }
            button type="submit" { (lang.t(if new { "settings-add" } else { "settings-save" })) }
        }
        @if let Some(goals) = shown.goals {
            (goals_section(lang, &form.id, goals, csrf))
        }
    };
    html::layout(
        lang,
        (&title, &here),
        &View::default(),
        Some(shown.account),
        html! {},
        body,
    )
}

fn goals_section(lang: Lang, id: &str, goals: &[GoalRow], csrf: &str) -> Markup {
    html! {
        section.card #goals aria-labelledby="goals-title" {
            h2 #goals-title { (lang.t("goals-title")) }
            @if goals.is_empty() {
                p { (lang.t("goals-none")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("goal-name")) }
                        th scope="col" { (lang.t("goal-target")) }
                        th scope="col" { span.visually-hidden { (lang.t("goal-remove-short")) } }
                    } }
                    tbody {
                        @for goal in goals {
                            tr {
                                th scope="row" { (goal.name) }
                                td {
                                    @if goal.page_pattern.is_empty() {
                                        (lang.t_with("goal-is-event", &[("target", Arg::Text(goal.event_name.clone()))]))
                                    } @else {
                                        (lang.t_with("goal-is-page", &[("target", Arg::Text(goal.page_pattern.clone()))]))
                                    }
                                }
                                td {
                                    form.inline method="post" action=(format!("/sites/{id}/goals/delete")) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="name" value=(goal.name);
                                        button type="submit" aria-label=(lang.t_with("goal-remove", &[("name", Arg::Text(goal.name.clone()))])) {
                                            (lang.t("goal-remove-short"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.settings method="post" action=(format!("/sites/{id}/goals")) {
                h3 { (lang.t("goal-add")) }
                input type="hidden" name="csrf" value=(csrf);
                label for="goal-name" { (lang.t("goal-name")) }
                input #goal-name name="name" required maxlength="120";
                fieldset {
                    legend { (lang.t("goal-kind")) }
                    label.choice { input type="radio" name="kind" value="page" checked; " " (lang.t("goal-kind-page")) }
                    label.choice { input type="radio" name="kind" value="event"; " " (lang.t("goal-kind-event")) }
                }
                label for="goal-target" { (lang.t("goal-target")) }
                input #goal-target name="target" required maxlength="512" placeholder="/inscription/**";
                button type="submit" { (lang.t("goal-save")) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_posted_form_becomes_the_row_collectors_read() {
        let form = SiteForm::posted(
            "mairie",
            &fields(&[
                ("hosts", "mairie.fr\n *.mairie.fr , mairie.fr\n"),
                ("mode", "consent"),
                ("time_zone", "America/Cayenne"),
                ("params", "q\r\npage"),
                ("events", "Inscription"),
                ("city", "on"),
                ("matomo_id", " 7 "),
            ]),
        );
        let row = form.row().expect("valid");
        assert_eq!(row.hostnames, ["mairie.fr", "*.mairie.fr"]);
        assert_eq!(row.allowed_params, ["q", "page"]);
        assert_eq!(
            (row.mode, row.city, row.matomo_id),
            (Mode::Consent, true, Some(7))
        );
        assert_eq!(SiteForm::of_row(&row).row().expect("again"), row);
    }

    #[test]
    fn refused_values_name_their_reason() {
        let base = [("hosts", "mairie.fr"), ("time_zone", "Europe/Paris")];
        for (extra, key) in [
            (("hosts", "<script>"), "site-error-host"),
            (("hosts", ""), "site-error-no-host"),
            (("params", "utm_source"), "site-error-campaign"),
            (("params", "a'b"), "site-error-param"),
            (("matomo_id", "-1"), "site-error-matomo"),
            (("time_zone", "Mars/Olympus"), "site-error-time-zone"),
        ] {
            let mut pairs: Vec<(&str, &str)> = base.to_vec();
            pairs.retain(|(k, _)| *k != extra.0);
            pairs.push(extra);
            let refusal = SiteForm::posted("s", &fields(&pairs))
                .row()
                .expect_err("refused");
            assert_eq!(refusal.key, key, "{extra:?}");
        }
        let many = (0..=MAX_ENTRIES)
            .map(|i| format!("h{i}.fr"))
            .collect::<Vec<_>>()
            .join("\n");
        let refusal = SiteForm::posted("s", &fields(&[("hosts", &many)]))
            .row()
            .expect_err("too many");
        assert_eq!(refusal.key, "site-error-entries");
        let bad_id = SiteForm::posted("../etc", &fields(&base))
            .row()
            .expect_err("id");
        assert_eq!(bad_id.key, "site-error-id");
    }
}
