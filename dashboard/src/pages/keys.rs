//! What opens figures without a session: a site's shared links, managed by
//! its admins at `/sites/{id}/links` (a name, an optional password, expiry
//! and embedding on the site's own hosts), and a user's own API tokens at
//! `/account` (a name and the sites it reads, among those the user may
//! read). A secret is shown once, when made; the store keeps its hash.
//! Each creation and revocation is audited.

use super::annotate::{admin_form, field, session_form};
use super::i18n::{Arg, Lang};
use super::{
    Account, Notice, admin_layout, admin_page, admin_post, administered_site, see_other, store_down,
};
use crate::api::ApiError;
use crate::app::{AppState, registry};
use crate::audit::{self, Action};
use crate::auth::Viewer;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::DateTime;
use maud::html;
use mesure_accounts::users::AccountError;
use mesure_sites::Site;
use std::sync::Arc;

/// The longest expiry a link may be given, in days.
pub const MAX_DAYS: i64 = 3660;

/// A time as pages show it: the UTC date and minute.
fn moment(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn last_use(lang: Lang, at: Option<i64>) -> String {
    at.map_or_else(|| lang.t("keys-never"), moment)
}

async fn links_page(
    state: &AppState,
    (viewer, site): (&Viewer, &Site),
    lang: Lang,
    (status, shown): (StatusCode, Notice),
) -> Result<Response, ApiError> {
    let links = state
        .accounts
        .links_of_site(&site.id)
        .await
        .map_err(store_down)?;
    let account = Account::of(viewer);
    let here = format!("/sites/{}/links", site.id);
    let title = lang.t_with("links-title", &[("site", Arg::Text(site.id.to_string()))]);
    let csrf = &account.csrf;
    let now = (state.now_ms)();
    let body = html! {
        h1 { (title) }
        p { a href=(format!("/sites/{}", site.id)) { (lang.t("settings-back")) } }
        (shown.markup(lang, ("keys-made-title", "keys-made-help")))
        section.card aria-labelledby="links" {
            h2 #links { (lang.t("links-list")) }
            @if links.is_empty() {
                p { (lang.t("links-none")) }
            } @else {
                div.scroll { table {
                    thead { tr {
                        th scope="col" { (lang.t("keys-name")) }
                        th scope="col" { (lang.t("links-state")) }
                        th scope="col" { (lang.t("keys-last-use")) }
                        th scope="col" { span.visually-hidden { (lang.t("keys-revoke-short")) } }
                    } }
                    tbody {
                        @for link in &links {
                            @let expired = link.expires_at.is_some_and(|at| at <= now);
                            tr {
                                th scope="row" { (link.name) }
                                td {
                                    @if link.revoked { (lang.t("keys-revoked")) }
                                    @else if expired { (lang.t("links-expired")) }
                                    @else {
                                        (lang.t("keys-live"))
                                        @if link.locked { ", " (lang.t("links-locked")) }
                                        @if link.embeddable { ", " (lang.t("links-embeddable")) }
                                        @if let Some(at) = link.expires_at { ", " (lang.t_with("links-until", &[("date", Arg::Text(moment(at)))])) }
                                    }
                                }
                                td { (last_use(lang, link.last_used_at)) }
                                td {
                                    @if !link.revoked {
                                        form.inline method="post" action=(format!("{here}/{}/revoke", link.id)) {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" aria-label=(lang.t_with("keys-revoke", &[("name", Arg::Text(link.name.clone()))])) { (lang.t("keys-revoke-short")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
        section.card aria-labelledby="new-link" {
            h2 #new-link { (lang.t("links-new")) }
            form.settings method="post" action=(here) {
                input type="hidden" name="csrf" value=(csrf);
                label for="name" { (lang.t("keys-name")) }
                input #name name="name" required maxlength="120" placeholder=(lang.t("links-name-example"));
                label for="password" { (lang.t("links-password")) }
                input #password type="password" name="password" minlength="12" autocomplete="new-password" aria-describedby="password-help";
                p.help #password-help { (lang.t("links-password-help")) }
                label for="days" { (lang.t("links-days")) }
                input #days name="days" inputmode="numeric" aria-describedby="days-help";
                p.help #days-help { (lang.t("links-days-help")) }
                label.choice {
                    input type="checkbox" name="embeddable";
                    " " (lang.t_with("links-embed", &[("hosts", Arg::Text(site.host_patterns().join(", ")))]))
                }
                button type="submit" { (lang.t("links-make")) }
            }
        }
    };
    Ok(admin_layout(
        (status, lang),
        (&title, &here),
        &account,
        body,
    ))
}

/// `GET /sites/{id}/links`.
pub async fn links(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &state;
    admin_page(
        state,
        (&uri, raw.as_deref()),
        &headers,
        async |viewer, lang| {
            let site = administered_site(state, &viewer, &id)?;
            let shown = (StatusCode::OK, Notice::default());
            links_page(state, (&viewer, &site), lang, shown).await
        },
    )
    .await
}

/// Why a link or token was refused, in the page's words.
fn refusal(lang: Lang, error: &AccountError) -> Option<String> {
    let key = match error {
        AccountError::Target(_) | AccountError::Name => "keys-error-name",
        AccountError::Password(_) => "people-error-password",
        AccountError::Unknown(_) => "keys-error-unknown",
        _ => return None,
    };
    Some(lang.t(key))
}

/// `POST /sites/{id}/links`: `name`, `password`, `days`, `embeddable`.
pub async fn add_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, lang| {
        let (viewer, site) = admin_form(state, &id, &headers, &fields).await?;
        let refused = |key: &str| Notice::refused(lang.t(key));
        let password = Some(field(&fields, "password")).filter(|p| !p.is_empty());
        let embeddable = field(&fields, "embeddable") == "on";
        let days = match field(&fields, "days").trim() {
            "" => None,
            text => match text.parse::<i64>() {
                Ok(days) if (1..=MAX_DAYS).contains(&days) => Some(days),
                _ => {
                    let shown = refused("links-error-days");
                    return links_page(
                        state,
                        (&viewer, &site),
                        lang,
                        (StatusCode::BAD_REQUEST, shown),
                    )
                    .await;
                }
            },
        };
        // A framed page gets no cookie under SameSite=Strict: a password
        // could never be remembered there.
        if embeddable && password.is_some() {
            let shown = refused("links-error-embed-password");
            return links_page(
                state,
                (&viewer, &site),
                lang,
                (StatusCode::BAD_REQUEST, shown),
            )
            .await;
        }
        let now = (state.now_ms)();
        let expires = days.map(|d| now + d * 86_400_000);
        let name = field(&fields, "name");
        let made = state
            .accounts
            .add_link(&viewer.user, &site.id, name, password, expires, now)
            .await;
        let (link, secret) = match made {
            Ok(made) => made,
            Err(error) => {
                let message = refusal(lang, &error).ok_or_else(|| store_down(error))?;
                let shown = Notice::refused(message);
                return links_page(
                    state,
                    (&viewer, &site),
                    lang,
                    (StatusCode::BAD_REQUEST, shown),
                )
                .await;
            }
        };
        if embeddable {
            state
                .accounts
                .set_embeddable(&link.id, true)
                .await
                .map_err(store_down)?;
        }
        let detail = format!("{}: {}", link.id, link.name);
        audit::note(state, &viewer.actor, Action::LinkCreated, &site.id, &detail).await;
        let shown = Notice {
            message: None,
            made: Some(super::people::absolute(
                &headers,
                &format!("/share/{secret}"),
            )),
        };
        links_page(state, (&viewer, &site), lang, (StatusCode::OK, shown)).await
    })
    .await
}

/// `POST /sites/{id}/links/{link}/revoke`.
pub async fn revoke_link(
    State(state): State<AppState>,
    Path((id, link)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, _| {
        let (viewer, site) = admin_form(state, &id, &headers, &fields).await?;
        let found = state
            .accounts
            .link(&link)
            .await
            .map_err(store_down)?
            .filter(|l| l.site_id == site.id.as_ref() && !l.revoked)
            .ok_or(ApiError::Refused {
                status: StatusCode::NOT_FOUND,
                key: "keys-error-unknown",
                detail: "no such link on this site".into(),
            })?;
        state
            .accounts
            .revoke_link(&found.id, (state.now_ms)())
            .await
            .map_err(store_down)?;
        let detail = format!("{}: {}", found.id, found.name);
        audit::note(state, &viewer.actor, Action::LinkRevoked, &site.id, &detail).await;
        Ok(see_other(&format!("/sites/{}/links", site.id)))
    })
    .await
}

/// The sites `viewer` may read, by id.
fn readable(state: &AppState, viewer: &Viewer) -> Result<Vec<Arc<Site>>, ApiError> {
    let (sites, _) = registry(state)?;
    let mut readable: Vec<Arc<Site>> = sites.iter().filter(|s| viewer.sees(s)).cloned().collect();
    readable.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(readable)
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    lang: Lang,
    (status, shown): (StatusCode, Notice),
) -> Result<Response, ApiError> {
    let tokens = state
        .accounts
        .tokens_of(&viewer.user.id)
        .await
        .map_err(store_down)?;
    let sites = readable(state, viewer)?;
    let account = Account::of(viewer);
    let csrf = &account.csrf;
    let title = lang.t("account-title");
    let body = html! {
        h1 { (title) }
        p { (lang.t_with("signed-in-as", &[("email", Arg::Text(viewer.user.email.clone()))])) }
        (shown.markup(lang, ("keys-made-title", "keys-made-help")))
        section.card aria-labelledby="tokens" {
            h2 #tokens { (lang.t("tokens-list")) }
            p { (lang.t("tokens-intro")) }
            @if tokens.is_empty() {
                p { (lang.t("tokens-none")) }
            } @else {
                div.scroll { table {
                    thead { tr {
                        th scope="col" { (lang.t("keys-name")) }
                        th scope="col" { (lang.t("tokens-sites")) }
                        th scope="col" { (lang.t("keys-last-use")) }
                        th scope="col" { span.visually-hidden { (lang.t("keys-revoke-short")) } }
                    } }
                    tbody {
                        @for token in &tokens {
                            tr {
                                th scope="row" { (token.name) @if token.revoked { br; span.muted { (lang.t("keys-revoked")) } } }
                                td { (token.sites.join(", ")) }
                                td { (last_use(lang, token.last_used_at)) }
                                td {
                                    @if !token.revoked {
                                        form.inline method="post" action=(format!("/account/tokens/{}/revoke", token.id)) {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" aria-label=(lang.t_with("keys-revoke", &[("name", Arg::Text(token.name.clone()))])) { (lang.t("keys-revoke-short")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
        @if !sites.is_empty() {
            section.card aria-labelledby="new-token" {
                h2 #new-token { (lang.t("tokens-new")) }
                form.settings method="post" action="/account/tokens" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="name" { (lang.t("keys-name")) }
                    input #name name="name" required maxlength="120" placeholder=(lang.t("tokens-name-example"));
                    fieldset {
                        legend { (lang.t("tokens-sites")) }
                        @for site in &sites {
                            label.choice { input type="checkbox" name="site" value=(site.id.as_ref()); " " (site.id.as_ref()) }
                        }
                    }
                    button type="submit" { (lang.t("tokens-make")) }
                }
            }
        }
    };
    Ok(admin_layout(
        (status, lang),
        (&title, "/account"),
        &account,
        body,
    ))
}

/// `GET /account`: the signed-in user's API tokens.
pub async fn account(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &state;
    admin_page(
        state,
        (&uri, raw.as_deref()),
        &headers,
        async |viewer, lang| {
            account_page(state, &viewer, lang, (StatusCode::OK, Notice::default())).await
        },
    )
    .await
}

/// `POST /account/tokens`: `name`, `site` (repeated).
pub async fn add_token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, lang| {
        let viewer = session_form(state, &headers, &fields).await?;
        let readable = readable(state, &viewer)?;
        let mut chosen: Vec<String> = Vec::new();
        for (key, value) in &fields {
            if key == "site" && !chosen.contains(value) {
                // A site the user may not read is not named: not found.
                if !readable.iter().any(|s| s.id.as_ref() == value) {
                    return Err(ApiError::UnknownSite);
                }
                chosen.push(value.clone());
            }
        }
        let now = (state.now_ms)();
        let made = if chosen.is_empty() {
            Err(AccountError::Target("no site".into()))
        } else {
            state
                .accounts
                .add_token(&viewer.user, field(&fields, "name"), &chosen, now)
                .await
        };
        let (token, secret) = match made {
            Ok(made) => made,
            Err(error) => {
                let message = if chosen.is_empty() {
                    lang.t("tokens-error-sites")
                } else {
                    refusal(lang, &error).ok_or_else(|| store_down(error))?
                };
                let shown = Notice::refused(message);
                return account_page(state, &viewer, lang, (StatusCode::BAD_REQUEST, shown)).await;
            }
        };
        let detail = format!("{}: {} for {}", token.id, token.name, viewer.user.email);
        for site in &token.sites {
            audit::note(state, &viewer.actor, Action::TokenCreated, site, &detail).await;
        }
        let shown = Notice {
            message: None,
            made: Some(secret),
        };
        account_page(state, &viewer, lang, (StatusCode::OK, shown)).await
    })
    .await
}

/// `POST /account/tokens/{token}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, _| {
        let viewer = session_form(state, &headers, &fields).await?;
        // Only one's own tokens: another's is not found.
        let found = state
            .accounts
            .token(&token)
            .await
            .map_err(store_down)?
            .filter(|t| t.user_id == viewer.user.id && !t.revoked)
            .ok_or(ApiError::Refused {
                status: StatusCode::NOT_FOUND,
                key: "keys-error-unknown",
                detail: "no such token".into(),
            })?;
        state
            .accounts
            .revoke_token(&found.id, (state.now_ms)())
            .await
            .map_err(store_down)?;
        let detail = format!("{}: {}", found.id, found.name);
        for site in &found.sites {
            audit::note(state, &viewer.actor, Action::TokenRevoked, site, &detail).await;
        }
        Ok(see_other("/account"))
    })
    .await
}
