//! Single sign-on against a small OpenID Connect provider run by the test
//! (discovery, keys, authorization with PKCE, token endpoint signing ID
//! tokens with a test key in `tests/oidc/`): an account whose verified
//! address the provider gives is signed in; an unknown, unverified or
//! disabled address, a token signed by another key or for another client,
//! a replayed code and a callback this browser did not start are refused,
//! each audited. On SQLite and PostgreSQL.

mod common;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::*;
use mesure_accounts::Role;
use mesure_dashboard::oidc::OidcConfig;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenFields, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
    CoreTokenResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, Audience, AuthUrl, EmptyAdditionalClaims, EmptyAdditionalProviderMetadata,
    EmptyExtraTokenFields, EndUserEmail, IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl, Nonce,
    PrivateSigningKey, ResponseTypes, StandardClaims, SubjectIdentifier, TokenUrl,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "mesure-dashboard";
const CLIENT_SECRET: &str = "test client secret";
const CALLBACK: &str = "http://collector.test/sign-in/oidc/callback";

/// What the provider does with the next sign-in.
#[derive(Debug, Clone)]
struct Next {
    email: String,
    verified: bool,
    /// Sign with a key the provider does not publish.
    rogue: bool,
    audience: String,
}

impl Next {
    fn honest(email: &str) -> Next {
        Next {
            email: email.to_owned(),
            verified: true,
            rogue: false,
            audience: CLIENT_ID.to_owned(),
        }
    }
}

#[derive(Debug)]
struct Grant {
    nonce: String,
    challenge: String,
    next: Next,
}

#[derive(Clone)]
struct Idp {
    issuer: String,
    next: Arc<Mutex<Next>>,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
}

fn key(name: &str) -> CoreRsaPrivateSigningKey {
    let path = format!("{}/tests/oidc/{name}-key.pem", env!("CARGO_MANIFEST_DIR"));
    let pem = std::fs::read_to_string(&path).expect("test key");
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(name.to_owned())))
        .expect("a PKCS#1 RSA key")
}

async fn discovery(State(idp): State<Idp>) -> Response {
    let url = |path: &str| format!("{}{path}", idp.issuer);
    let metadata = CoreProviderMetadata::new(
        IssuerUrl::new(idp.issuer.clone()).expect("issuer"),
        AuthUrl::new(url("/authorize")).expect("url"),
        JsonWebKeySetUrl::new(url("/jwks")).expect("url"),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_token_endpoint(Some(TokenUrl::new(url("/token")).expect("url")));
    axum::Json(metadata).into_response()
}

async fn jwks() -> Response {
    axum::Json(CoreJsonWebKeySet::new(vec![
        key("provider").as_verification_key(),
    ]))
    .into_response()
}

async fn authorize(State(idp): State<Idp>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(q.get("redirect_uri").map(String::as_str), Some(CALLBACK));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(
        q.get("scope")
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"))
    );
    let code = format!("code-{}", idp.codes.lock().expect("codes").len());
    let grant = Grant {
        nonce: q.get("nonce").cloned().unwrap_or_default(),
        challenge: q.get("code_challenge").cloned().unwrap_or_default(),
        next: idp.next.lock().expect("next").clone(),
    };
    idp.codes.lock().expect("codes").insert(code.clone(), grant);
    let location = format!(
        "{CALLBACK}?code={code}&state={}",
        q.get("state").cloned().unwrap_or_default()
    );
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

async fn token(State(idp): State<Idp>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    use base64::Engine;
    let refused = |error: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": error})),
        )
            .into_response()
    };
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{CLIENT_ID}:{}", CLIENT_SECRET.replace(' ', "+")));
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Basic {basic}"));
    if !authorized {
        return refused("invalid_client");
    }
    // A code works once.
    let Some(grant) = form
        .get("code")
        .and_then(|code| idp.codes.lock().expect("codes").remove(code))
    else {
        return refused("invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    if challenge != grant.challenge {
        return refused("invalid_grant");
    }
    let now = chrono::Utc::now();
    let access = AccessToken::new("access".to_owned());
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(idp.issuer.clone()).expect("issuer"),
        vec![Audience::new(grant.next.audience.clone())],
        now + chrono::Duration::seconds(300),
        now,
        StandardClaims::new(SubjectIdentifier::new(format!("sub-{}", grant.next.email)))
            .set_email(Some(EndUserEmail::new(grant.next.email.clone())))
            .set_email_verified(Some(grant.next.verified)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(grant.nonce)));
    let signer = key(if grant.next.rogue {
        "rogue"
    } else {
        "provider"
    });
    let id_token = CoreIdToken::new(
        claims,
        &signer,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access),
        None,
    )
    .expect("signed");
    axum::Json(CoreTokenResponse::new(
        access,
        CoreTokenType::Bearer,
        CoreIdTokenFields::new(Some(id_token), EmptyExtraTokenFields {}),
    ))
    .into_response()
}

/// Starts the provider on a free loopback port.
async fn provider() -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let idp = Idp {
        issuer: format!("http://{}", listener.local_addr().expect("addr")),
        next: Arc::new(Mutex::new(Next::honest("ana@paris.fr"))),
        codes: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    idp
}

/// The path and query of an absolute URL.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("/".to_owned(), |i| rest[i..].to_owned())
}

/// Where the provider sends the browser back, and the flow cookie the
/// dashboard set when the sign-in started.
async fn through_provider(dashboard: &Dashboard, idp: &Idp) -> (String, String) {
    let started = send(
        dashboard.addr,
        browser_request("GET", "/sign-in/oidc?next=%2Fsites%2Fparis", &[], b""),
    )
    .await;
    assert_eq!(started.status, 303, "{}", text(&started));
    let to_provider = started.header("location").expect("to the provider");
    assert!(to_provider.starts_with(&idp.issuer), "{to_provider}");
    let cookie = started.header("set-cookie").expect("flow cookie");
    assert!(
        cookie.contains("SameSite=Lax")
            && cookie.contains("HttpOnly")
            && cookie.contains("Path=/sign-in/oidc"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    let addr: std::net::SocketAddr = idp.issuer["http://".len()..].parse().expect("addr");
    let back = send(
        addr,
        browser_request("GET", &path_of(&to_provider), &[], b""),
    )
    .await;
    assert_eq!(back.status, 303);
    (path_of(&back.header("location").expect("back")), cookie)
}

async fn callback(dashboard: &Dashboard, target: &str, cookie: Option<&str>) -> Answer {
    let mut headers = vec![("Accept-Language", "en")];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    send(
        dashboard.addr,
        browser_request("GET", target, &headers, b""),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_signs_in_known_verified_addresses_only() {
    let (_db, clickhouse) = database("oidc", &generate(1, 109)).await;
    for engine in ENGINES {
        let idp = provider().await;
        let config = OidcConfig {
            issuer: idp.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_url: CALLBACK.into(),
            label: "ProConnect".into(),
            scopes: vec!["email".into()],
        };
        let dashboard = dashboard_configured(
            clickhouse.clone(),
            accounts_on(engine).await,
            Extras {
                oidc: config,
                ..Extras::default()
            },
        )
        .await;
        let store = &dashboard.accounts;
        let since = mesure_testkit::clock::real_now_ms() - 1;
        // Accounts without a password: single sign-on only.
        for (email, disabled) in [("ana@paris.fr", false), ("gone@paris.fr", true)] {
            let user = store.add_user(email, "", None, false).await.expect("user");
            store
                .grant_site(&user.id, "paris", Role::Viewer)
                .await
                .expect("role");
            if disabled {
                store.set_disabled(email, true).await.expect("disable");
            }
        }

        // The sign-in page offers it.
        let form = callback(&dashboard, "/sign-in", None).await;
        assert!(
            text(&form).contains("Sign in with ProConnect"),
            "{}",
            text(&form)
        );

        // A known, verified address is signed in, and led on by a page of ours.
        let (target, flow) = through_provider(&dashboard, &idp).await;
        let signed = callback(&dashboard, &target, Some(&flow)).await;
        assert_eq!(signed.status, 200, "{}", text(&signed));
        assert!(text(&signed).contains("content=\"0;url=/sites/paris\""));
        let session = signed
            .headers("set-cookie")
            .iter()
            .map(|v| v.split(';').next().expect("pair").to_owned())
            .find(|c| c.starts_with("__Host-mesure_session=") && !c.ends_with('='))
            .expect("a session");
        let page = callback(&dashboard, "/sites/paris", Some(&session)).await;
        assert_eq!(page.status, 200);
        assert_eq!(
            callback(&dashboard, "/sites/noumea", Some(&session))
                .await
                .status,
            404
        );

        // The same code again: the provider refuses it.
        let replayed = callback(&dashboard, &target, Some(&flow)).await;
        assert_eq!(replayed.status, 403, "{}", text(&replayed));

        // A callback this browser did not start, or with another state.
        let (target, flow) = through_provider(&dashboard, &idp).await;
        assert_eq!(callback(&dashboard, &target, None).await.status, 403);
        let forged = target.replace("state=", "state=x");
        assert_eq!(callback(&dashboard, &forged, Some(&flow)).await.status, 403);

        // Unknown, unverified, disabled, other key, other client: refused.
        let cases = [
            (
                Next::honest("nobody@paris.fr"),
                "No account of this dashboard",
            ),
            (
                Next {
                    verified: false,
                    ..Next::honest("ana@paris.fr")
                },
                "did not succeed",
            ),
            (
                Next::honest("gone@paris.fr"),
                "No account of this dashboard",
            ),
            (
                Next {
                    rogue: true,
                    ..Next::honest("ana@paris.fr")
                },
                "did not succeed",
            ),
            (
                Next {
                    audience: "another-client".into(),
                    ..Next::honest("ana@paris.fr")
                },
                "did not succeed",
            ),
        ];
        for (next, says) in cases {
            *idp.next.lock().expect("next") = next.clone();
            let (target, flow) = through_provider(&dashboard, &idp).await;
            let refused = callback(&dashboard, &target, Some(&flow)).await;
            assert_eq!(refused.status, 403, "{next:?}");
            assert!(
                text(&refused).contains(says),
                "{next:?}: {}",
                text(&refused)
            );
            assert!(
                !refused
                    .headers("set-cookie")
                    .iter()
                    .any(|v| v.contains("mesure_session=")),
                "{next:?}: no session"
            );
        }

        // Each attempt is in the audit log.
        let rows: Vec<(String, String, String)> = clickhouse
            .query(
                "SELECT action, actor, detail FROM audit \
                 WHERE at >= fromUnixTimestamp64Milli(?, 'UTC') ORDER BY at",
            )
            .bind(since)
            .fetch_all()
            .await
            .expect("audit");
        let signed_in: Vec<_> = rows.iter().filter(|(a, _, _)| a == "sign_in").collect();
        assert_eq!(signed_in.len(), 1, "{rows:?}");
        assert_eq!(signed_in[0].1, "ana@paris.fr");
        assert_eq!(signed_in[0].2, "oidc");
        let refused = rows
            .iter()
            .filter(|(a, _, _)| a == "sign_in_refused")
            .count();
        assert_eq!(refused, 7, "{engine:?} {rows:?}");
        dashboard.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_provider_there_is_no_single_sign_on() {
    let (_db, clickhouse) = database("no_oidc", &[]).await;
    let dashboard = dashboard(clickhouse).await;
    let form = callback(&dashboard, "/sign-in", None).await;
    assert!(!text(&form).contains("/sign-in/oidc"));
    for target in ["/sign-in/oidc", "/sign-in/oidc/callback?code=x&state=y"] {
        assert_eq!(
            callback(&dashboard, target, None).await.status,
            404,
            "{target}"
        );
    }
    dashboard.stop();
}
