//! Who is asking: the session a browser's cookie names, or the API token a
//! script sends, and what its user may see. Pages without a session send the browser to sign in; the API
//! answers `401`. A site the viewer has no role on is answered as if it did
//! not exist (`404`), so its existence is not confirmed.
//!
//! The cookie is `HttpOnly` and `SameSite=Strict`; reached through any host
//! but a loopback one (so through TLS, at a reverse proxy), it is also
//! `Secure` and named with the `__Host-` prefix (one host, path `/`).

use crate::api::ApiError;
use crate::app::AppState;
use crate::audit::{self, Action, Actor};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use mesure_accounts::{Access, Role, User};
use mesure_sites::Site;
use mesure_sites::network::Network;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

/// The session cookie over plain HTTP on a loopback host (development).
pub const COOKIE: &str = "mesure_session";
/// The session cookie everywhere else.
pub const SECURE_COOKIE: &str = "__Host-mesure_session";

/// A signed-in user and what they may see, for one request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub access: Access,
    /// The token the session's forms carry.
    pub csrf: String,
    /// For an API token: the sites it lists, read only.
    pub only: Option<HashSet<String>>,
    /// Who the audit log names.
    pub actor: Actor,
    /// An API token whose use is not recorded yet this minute.
    pub token_use_due: bool,
}

impl Viewer {
    /// The viewer's role on a site: the user's, and for an API token only
    /// on the sites it lists, and only to read.
    pub fn role(&self, site: &Site) -> Option<Role> {
        let role = self.access.role_on(&site.id, &site.organisation)?;
        match &self.only {
            Some(sites) => sites.contains(site.id.as_ref()).then_some(Role::Viewer),
            None => Some(role),
        }
    }

    pub fn sees(&self, site: &Site) -> bool {
        self.role(site).is_some()
    }

    /// The site if the viewer may read it, else "no such site".
    pub fn check<'a>(&self, site: &'a Site) -> Result<&'a Site, ApiError> {
        if self.sees(site) {
            Ok(site)
        } else {
            Err(ApiError::UnknownSite)
        }
    }

    /// The site if the viewer administers it; a reader who may only view
    /// it is refused, one who may not see it is told it does not exist.
    pub fn check_admin<'a>(&self, site: &'a Site) -> Result<&'a Site, ApiError> {
        match self.role(site) {
            Some(Role::Admin) => Ok(site),
            Some(Role::Viewer) => Err(ApiError::Refused {
                status: StatusCode::FORBIDDEN,
                key: "error-not-admin",
                detail: "this needs the site's admin role".into(),
            }),
            None => Err(ApiError::UnknownSite),
        }
    }
}

/// Whether the request was sent to a loopback host (plain HTTP in
/// development).
fn loopback_host(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The session cookie's name for this request.
pub fn cookie_name(headers: &HeaderMap) -> &'static str {
    if loopback_host(headers) {
        COOKIE
    } else {
        SECURE_COOKIE
    }
}

/// The value of the cookie `wanted` a request carries.
pub fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
}

/// The session secret a request's cookies carry.
pub fn secret(headers: &HeaderMap) -> Option<String> {
    cookie(headers, cookie_name(headers))
}

/// A `Set-Cookie` for `name=value` on `path`, for `max_age_s` seconds:
/// `HttpOnly`, `SameSite` as given (`Strict` but for a flow that comes
/// back from another site), and `Secure` beyond a loopback host.
pub fn cookie_header(
    headers: &HeaderMap,
    (name, value): (&str, &str),
    (path, same_site): (&str, &str),
    max_age_s: i64,
) -> HeaderValue {
    let secure = if loopback_host(headers) {
        ""
    } else {
        "; Secure"
    };
    let cookie = format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age_s}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the request was sent over plain HTTP to a loopback host.
pub fn plain_local(headers: &HeaderMap) -> bool {
    loopback_host(headers)
}

/// The `Set-Cookie` of a new session, or of its end (`None`).
pub fn set_cookie(headers: &HeaderMap, session: Option<(&str, i64)>) -> HeaderValue {
    let (value, max_age) = session.map_or(("", 0), |(secret, ms)| (secret, ms / 1000));
    cookie_header(
        headers,
        (cookie_name(headers), value),
        ("/", "Strict"),
        max_age,
    )
}

/// The viewer of a request, if its session is live.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, ApiError> {
    let Some(secret) = secret(headers) else {
        return Ok(None);
    };
    let unavailable =
        |e: mesure_accounts::users::AccountError| ApiError::Unavailable(e.to_string());
    let Some(session) = state
        .accounts
        .session(&secret, (state.now_ms)(), state.policy)
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let access = state
        .accounts
        .access(&session.user)
        .await
        .map_err(unavailable)?;
    Ok(Some(Viewer {
        actor: Actor {
            name: session.user.email.clone(),
            credential: String::new(),
            address: address(headers),
        },
        user: session.user,
        access,
        csrf: session.csrf,
        only: None,
        token_use_due: false,
    }))
}

/// The viewer of an API request: its `Authorization: Bearer` token if it
/// sends one (a bad one is refused, whatever cookie comes with it), else
/// its session; or `401`.
pub async fn api_viewer(state: &AppState, headers: &HeaderMap) -> Result<Viewer, ApiError> {
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return viewer(state, headers).await?.ok_or(ApiError::Unauthorized);
    };
    let secret = authorization
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    let unavailable =
        |e: mesure_accounts::users::AccountError| ApiError::Unavailable(e.to_string());
    let presented = state
        .accounts
        .presented(secret, (state.now_ms)())
        .await
        .map_err(unavailable)?
        .ok_or(ApiError::Unauthorized)?;
    let access = state
        .accounts
        .access(&presented.user)
        .await
        .map_err(unavailable)?;
    Ok(Viewer {
        actor: Actor {
            name: presented.user.email.clone(),
            credential: format!("token:{}", presented.token_id),
            address: address(headers),
        },
        token_use_due: mesure_accounts::use_due(presented.last_used_at, (state.now_ms)()),
        user: presented.user,
        access,
        csrf: String::new(),
        only: Some(presented.sites.into_iter().collect()),
    })
}

/// Records an API token's use on `site_id`, once a minute at most.
pub async fn token_used(state: &AppState, viewer: &Viewer, site_id: &str) {
    if viewer.token_use_due {
        let row = viewer
            .actor
            .row(Action::TokenUsed, site_id, "", (state.now_ms)());
        audit::record(state, &[row]).await;
    }
}

/// The header the dashboard puts the client's truncated address in, for
/// its own handlers; whatever a client sends under it is replaced.
const ADDRESS: HeaderName = HeaderName::from_static("x-mesure-client-prefix");

/// Puts the client's truncated address in the request's headers: the
/// socket's peer, or behind a trusted proxy the address it forwards.
pub async fn mark_address(
    State(network): State<Arc<Network>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|peer| peer.0.ip());
    let prefix = client_prefix(&network, peer, request.headers());
    let value = HeaderValue::from_str(&prefix).unwrap_or_else(|_| HeaderValue::from_static(""));
    request.headers_mut().insert(ADDRESS, value);
    next.run(request).await
}

/// The truncated address of the client of a request from `peer`.
fn client_prefix(network: &Network, peer: Option<std::net::IpAddr>, headers: &HeaderMap) -> String {
    peer.map(|peer| {
        network
            .truncate(network.client_ip(peer, headers))
            .to_string()
    })
    .unwrap_or_default()
}

/// The client's truncated address, as `mark_address` found it.
pub fn address(headers: &HeaderMap) -> String {
    headers
        .get(ADDRESS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Whether two secrets are equal, in time that does not tell how much of
/// them matched.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Where a page sends its reader after signing in: a path of this
/// dashboard only, never another site.
pub fn next_path(text: &str) -> String {
    let safe = text.starts_with('/')
        && !text.starts_with("//")
        && !text.starts_with("/\\")
        && text.len() <= 2000
        && !text.chars().any(|c| c.is_control() || c == '\\');
    if safe {
        text.to_owned()
    } else {
        "/".to_owned()
    }
}

/// Request headers for unit tests.
#[cfg(test)]
pub(crate) fn test_headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_headers as with;

    #[test]
    fn the_cookie_is_secure_and_host_bound_beyond_loopback() {
        for local in [
            "127.0.0.1:8081",
            "localhost:8081",
            "[::1]:8081",
            "localhost",
        ] {
            let headers = with(&[("host", local)]);
            assert_eq!(cookie_name(&headers), COOKIE, "{local}");
            let set = set_cookie(&headers, Some(("abc", 3_600_000)));
            assert_eq!(
                set.to_str().expect("ascii"),
                "mesure_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600"
            );
        }
        for public in [
            "stats.mairie.fr",
            "stats.mairie.fr:443",
            "127.0.0.1.evil.fr",
            "",
        ] {
            let headers = with(&[("host", public)]);
            assert_eq!(cookie_name(&headers), SECURE_COOKIE, "{public}");
            assert!(
                set_cookie(&headers, None)
                    .to_str()
                    .expect("ascii")
                    .ends_with("Max-Age=0; Secure")
            );
        }
    }

    #[test]
    fn the_secret_is_read_from_its_own_cookie_only() {
        let headers = with(&[
            ("host", "127.0.0.1"),
            ("cookie", "a=1; mesure_session=s3; b=2"),
        ]);
        assert_eq!(secret(&headers).as_deref(), Some("s3"));
        // The insecure name is not read over TLS.
        let headers = with(&[("host", "stats.mairie.fr"), ("cookie", "mesure_session=s3")]);
        assert_eq!(secret(&headers), None);
        let headers = with(&[
            ("host", "stats.mairie.fr"),
            ("cookie", "__Host-mesure_session=s4"),
        ]);
        assert_eq!(secret(&headers).as_deref(), Some("s4"));
    }

    #[test]
    fn sign_in_leads_back_to_this_dashboard_only() {
        for (asked, next) in [
            ("/sites/a?period=7d", "/sites/a?period=7d"),
            ("//evil.example/", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example/", "/"),
            ("", "/"),
            ("/a\nb", "/"),
        ] {
            assert_eq!(next_path(asked), next, "{asked:?}");
        }
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards_it() {
        let config = crate::config::DashboardConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().expect("net")],
            ..Default::default()
        };
        let network = config.network();
        let forwarded = test_headers(&[("x-forwarded-for", "203.0.113.9")]);
        let prefix = |peer: &str, headers: &HeaderMap| {
            client_prefix(&network, Some(peer.parse().expect("ip")), headers)
        };
        assert_eq!(prefix("192.0.2.77", &forwarded), "192.0.2.0");
        assert_eq!(prefix("10.1.2.3", &forwarded), "203.0.113.0");
        assert_eq!(prefix("2001:db8:1:2::5", &HeaderMap::new()), "2001:db8:1::");
        assert_eq!(client_prefix(&network, None, &forwarded), "");
    }
}
