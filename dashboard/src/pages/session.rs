//! Signing in and out. A sign-in is refused with the same message whether
//! or not the account exists, and refused outright (`429`) past the
//! failures allowed per account and per client address; a sign-out needs
//! the session's CSRF token.

use super::annotate::{field, same_origin};
use super::{error_page, html, i18n::Arg, language, page, see_other, view::View};
use crate::api::ApiError;
use crate::app::{AppState, count};
use crate::audit::{self, Action, Actor};
use crate::auth;
use crate::oidc;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use std::time::Instant;

fn next_of(raw: Option<&str>) -> String {
    let next = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    auth::next_path(&next)
}

/// The single sign-on button's words, when it is on.
fn sso(state: &AppState) -> Option<&str> {
    state.oidc.as_deref().map(|provider| provider.label())
}

/// `GET /sign-in?next=PATH`.
pub async fn form(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let next = next_of(raw.as_deref());
    let response = match auth::viewer(&state, &headers).await {
        Ok(Some(_)) => see_other(&next),
        Ok(None) => page(
            StatusCode::OK,
            lang,
            html::sign_in(lang, (&next, ""), None, sso(&state)),
        ),
        Err(error) => error_page(&error, lang),
    };
    count(&state, "page", started, &response);
    response
}

/// `POST /sign-in`: `email`, `password`, `next`.
pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let (email, password) = (field(&fields, "email"), field(&fields, "password"));
    let next = auth::next_path(field(&fields, "next"));
    let address = auth::address(&headers);
    let actor = Actor {
        name: email.to_owned(),
        credential: String::new(),
        address: address.clone(),
    };
    let outcome = async {
        same_origin(&headers)?;
        let (accounts, policy, now) = (&state.accounts, state.policy, (state.now_ms)());
        let unavailable =
            |e: mesure_accounts::users::AccountError| ApiError::Unavailable(e.to_string());
        if !accounts
            .may_sign_in(email, &address, now, policy)
            .await
            .map_err(unavailable)?
        {
            audit::note(&state, &actor, Action::SignInRefused, "", "limited").await;
            let minutes = u64::try_from(policy.window_ms / 60_000).unwrap_or(0);
            let message = lang.t_with("sign-in-limited", &[("minutes", Arg::Count(minutes))]);
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                html::sign_in(lang, (&next, email), Some(message), sso(&state)),
            );
            if let Ok(value) = HeaderValue::from_str(&(minutes * 60).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(response);
        }
        match accounts
            .authenticate(email, password)
            .await
            .map_err(unavailable)?
        {
            Some(user) => {
                let opened = accounts
                    .open_session(&user, now)
                    .await
                    .map_err(unavailable)?;
                tracing::info!(user = %user.id, "signed in");
                let actor = Actor {
                    name: user.email.clone(),
                    ..actor
                };
                audit::note(&state, &actor, Action::SignIn, "", "").await;
                let mut response = see_other(&next);
                response.headers_mut().insert(
                    header::SET_COOKIE,
                    auth::set_cookie(&headers, Some((&opened.secret, policy.max_ms))),
                );
                Ok(response)
            }
            None => {
                accounts
                    .sign_in_failed(email, &address, now)
                    .await
                    .map_err(unavailable)?;
                tracing::info!("sign-in refused");
                audit::note(&state, &actor, Action::SignInRefused, "", "").await;
                Ok(page(
                    StatusCode::UNAUTHORIZED,
                    lang,
                    html::sign_in(
                        lang,
                        (&next, email),
                        Some(lang.t("sign-in-failed")),
                        sso(&state),
                    ),
                ))
            }
        }
    }
    .await;
    let response = outcome.unwrap_or_else(|error: ApiError| error_page(&error, lang));
    count(&state, "sign_in", started, &response);
    response
}

/// `POST /sign-out`: `csrf`.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let outcome = async {
        same_origin(&headers)?;
        let viewer = auth::viewer(&state, &headers).await?;
        if let (Some(viewer), Some(secret)) = (viewer, auth::secret(&headers)) {
            super::annotate::check_csrf(&viewer, &fields)?;
            state
                .accounts
                .close_session(&secret)
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            audit::note(&state, &viewer.actor, Action::SignOut, "", "").await;
        }
        let mut response = see_other("/sign-in");
        response
            .headers_mut()
            .insert(header::SET_COOKIE, auth::set_cookie(&headers, None));
        Ok::<_, ApiError>(response)
    }
    .await;
    let response = outcome.unwrap_or_else(|error| error_page(&error, lang));
    count(&state, "sign_in", started, &response);
    response
}

/// The cookie of a single sign-on started by this browser.
fn flow_cookie(headers: &HeaderMap) -> &'static str {
    if auth::plain_local(headers) {
        "mesure_oidc"
    } else {
        "__Secure-mesure_oidc"
    }
}

/// Where the flow's cookie is sent: the callback only.
const FLOW_PATH: &str = "/sign-in/oidc";

/// `GET /sign-in/oidc?next=PATH`: to the identity provider.
pub async fn oidc_start(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let outcome = async {
        let provider = state.oidc.as_ref().ok_or(ApiError::UnknownSite)?;
        let (url, flow) = provider
            .start(&next_of(raw.as_deref()))
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let mut response = see_other(&url);
        let cookie = auth::cookie_header(
            &headers,
            (flow_cookie(&headers), &flow.encode()),
            (FLOW_PATH, "Lax"),
            oidc::FLOW_SECONDS,
        );
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        Ok::<_, ApiError>(response)
    }
    .await;
    let response = outcome.unwrap_or_else(|error| error_page(&error, lang));
    count(&state, "sign_in", started, &response);
    response
}

/// `GET /sign-in/oidc/callback?code=&state=`: back from the identity
/// provider. The account that uses the verified address is signed in;
/// then a page of ours leads on, so that the session's `SameSite=Strict`
/// cookie is sent (a redirect chain that began at the provider is
/// cross-site to browsers).
pub async fn oidc_callback(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), &headers);
    let params: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let outcome = async {
        let provider = state.oidc.as_ref().ok_or(ApiError::UnknownSite)?;
        let refused = |key: &'static str, detail: String| ApiError::Refused {
            status: StatusCode::FORBIDDEN,
            key,
            detail,
        };
        let flow = auth::cookie(&headers, flow_cookie(&headers))
            .and_then(|text| oidc::Flow::decode(&text))
            .ok_or_else(|| refused("sign-in-sso-failed", "no sign-in was started here".into()))?;
        let mut actor = Actor {
            name: String::new(),
            credential: String::new(),
            address: auth::address(&headers),
        };
        if !field(&params, "error").is_empty() {
            let detail = format!("oidc: {:.100}", field(&params, "error"));
            audit::note(&state, &actor, Action::SignInRefused, "", &detail).await;
            return Err(refused("sign-in-sso-failed", detail));
        }
        let email = match provider
            .finish(&flow, field(&params, "state"), field(&params, "code"))
            .await
        {
            Ok(email) => email,
            Err(oidc::OidcError::Provider(e)) => return Err(ApiError::Unavailable(e)),
            Err(error) => {
                let detail = format!("oidc: {error}");
                audit::note(&state, &actor, Action::SignInRefused, "", &detail).await;
                return Err(refused("sign-in-sso-failed", detail));
            }
        };
        actor.name.clone_from(&email);
        let unavailable =
            |e: mesure_accounts::users::AccountError| ApiError::Unavailable(e.to_string());
        let user = state
            .accounts
            .user_by_email(&email)
            .await
            .map_err(unavailable)?
            .filter(|u| !u.disabled);
        let Some(user) = user else {
            audit::note(
                &state,
                &actor,
                Action::SignInRefused,
                "",
                "oidc: no account",
            )
            .await;
            return Err(refused(
                "sign-in-sso-no-account",
                "no account uses this address".into(),
            ));
        };
        let opened = state
            .accounts
            .open_session(&user, (state.now_ms)())
            .await
            .map_err(unavailable)?;
        tracing::info!(user = %user.id, "signed in through single sign-on");
        audit::note(&state, &actor, Action::SignIn, "", "oidc").await;
        let mut response = page(StatusCode::OK, lang, html::continue_to(lang, &flow.next));
        let headers_out = response.headers_mut();
        headers_out.append(
            header::SET_COOKIE,
            auth::set_cookie(&headers, Some((&opened.secret, state.policy.max_ms))),
        );
        headers_out.append(
            header::SET_COOKIE,
            auth::cookie_header(&headers, (flow_cookie(&headers), ""), (FLOW_PATH, "Lax"), 0),
        );
        Ok(response)
    }
    .await;
    let response = outcome.unwrap_or_else(|error| error_page(&error, lang));
    count(&state, "sign_in", started, &response);
    response
}
