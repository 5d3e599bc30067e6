//! Shared links: `/share/SECRET` is one site's overview, with its details
//! pages and CSVs, read-only, for people without an account. It shows
//! nothing of other sites, settings or users, and stops when the link is
//! revoked or expires, or when its maker may no longer read the site. A
//! link with a password asks for it once per browser (a cookie scoped to
//! the link's path), with failures limited like sign-ins.

use super::annotate::{field, same_origin};
use super::view::View;
use super::{
    Reader, Who, csv_for, details_for, error_page, html, language, overview_for, page, see_other,
};
use crate::api::{ApiError, v2};
use crate::app::{AppState, count, registry};
use crate::audit::{self, Action, Actor};
use crate::auth;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::time::Instant;

/// How long a browser keeps a link open once it gave the password.
const UNLOCK_SECONDS: i64 = 12 * 3600;

/// The cookie of an opened link with a password.
fn unlock_cookie(headers: &HeaderMap) -> &'static str {
    if auth::plain_local(headers) {
        "mesure_link"
    } else {
        "__Secure-mesure_link"
    }
}

fn base(secret: &str) -> String {
    format!("/share/{secret}")
}

/// The reader of a link's page: the link's site if the link is live and
/// open; else the password form, or "not found" (revoked, expired, unknown
/// and a maker who lost the site all look the same).
pub(crate) async fn reader(
    state: &AppState,
    secret: &str,
    headers: &HeaderMap,
    lang: super::i18n::Lang,
) -> Result<Reader, Response> {
    let fail = |error: ApiError| error_page(&error, lang);
    let unavailable =
        |e: mesure_accounts::users::AccountError| fail(ApiError::Unavailable(e.to_string()));
    let (link, maker) = state
        .accounts
        .shared(secret, (state.now_ms)())
        .await
        .map_err(unavailable)?
        .ok_or_else(|| fail(ApiError::UnknownSite))?;
    let (sites, _) = registry(state).map_err(fail)?;
    let (site, _) = v2::find_site(&sites, &link.site_id).map_err(fail)?;
    let access = state.accounts.access(&maker).await.map_err(unavailable)?;
    if access.role_on(&site.id, &site.organisation).is_none() {
        return Err(fail(ApiError::UnknownSite));
    }
    if link.locked
        && auth::cookie(headers, unlock_cookie(headers)) != Some(link.unlock_value(secret))
    {
        return Err(page(
            StatusCode::OK,
            lang,
            html::link_password(lang, &base(secret), None),
        ));
    }
    let actor = Actor {
        name: link.name.clone(),
        credential: format!("link:{}", link.id),
        address: auth::address(headers),
    };
    if mesure_accounts::use_due(link.last_used_at, (state.now_ms)()) {
        audit::note(state, &actor, Action::LinkUsed, &site.id, "").await;
    }
    let frame = link.embeddable.then(|| frame_sources(&site));
    Ok(Reader::Link {
        site,
        base: base(secret),
        actor,
        frame,
    })
}

/// The origins of a site's own pages, which may frame its embeddable
/// links: over HTTPS only.
pub fn frame_sources(site: &mesure_sites::Site) -> Vec<String> {
    let mut sources = Vec::new();
    for pattern in site.host_patterns() {
        if let Some(domain) = pattern.strip_prefix("*.") {
            sources.push(format!("https://{domain}"));
        }
        sources.push(format!("https://{pattern}"));
    }
    sources
}

/// `GET /share/{secret}`: the site's overview.
pub async fn overview(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    overview_for(&state, Who::Link(&secret), "", raw.as_deref(), &headers).await
}

/// `GET /share/{secret}/details/{dimension}`.
pub async fn details(
    State(state): State<AppState>,
    Path((secret, dimension)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    details_for(
        &state,
        Who::Link(&secret),
        ("", &dimension),
        raw.as_deref(),
        &headers,
    )
    .await
}

/// `GET /share/{secret}/csv?d=DIMENSION`.
pub async fn csv(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    csv_for(&state, Who::Link(&secret), "", raw.as_deref(), &headers).await
}

/// `POST /share/{secret}`: `password`.
pub async fn open(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let address = auth::address(&headers);
    let outcome = async {
        same_origin(&headers)?;
        let (accounts, policy, now) = (&state.accounts, state.policy, (state.now_ms)());
        let unavailable =
            |e: mesure_accounts::users::AccountError| ApiError::Unavailable(e.to_string());
        let (link, _) = accounts
            .shared(&secret, now)
            .await
            .map_err(unavailable)?
            .ok_or(ApiError::UnknownSite)?;
        let key = format!("link:{}", link.id);
        let form = |status, message| {
            page(
                status,
                lang,
                html::link_password(lang, &base(&secret), Some(message)),
            )
        };
        if !accounts
            .may_sign_in(&key, &address, now, policy)
            .await
            .map_err(unavailable)?
        {
            let minutes = u64::try_from(policy.window_ms / 60_000).unwrap_or(0);
            let message = lang.t_with(
                "sign-in-limited",
                &[("minutes", super::i18n::Arg::Count(minutes))],
            );
            return Ok(form(StatusCode::TOO_MANY_REQUESTS, message));
        }
        if !link.opens(field(&fields, "password")) {
            accounts
                .sign_in_failed(&key, &address, now)
                .await
                .map_err(unavailable)?;
            return Ok(form(
                StatusCode::UNAUTHORIZED,
                lang.t("link-password-wrong"),
            ));
        }
        let mut response = see_other(&base(&secret));
        let unlock = link.unlock_value(&secret);
        response.headers_mut().insert(
            header::SET_COOKIE,
            auth::cookie_header(
                &headers,
                (unlock_cookie(&headers), &unlock),
                (&base(&secret), "Strict"),
                UNLOCK_SECONDS,
            ),
        );
        Ok::<_, ApiError>(response)
    }
    .await;
    let response = outcome.unwrap_or_else(|error| error_page(&error, lang));
    count(&state, "sign_in", started, &response);
    response
}
