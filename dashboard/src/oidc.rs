//! Single sign-on through OpenID Connect (the `[oidc]` section): the
//! authorization code flow with PKCE (S256), a state and a nonce, for an
//! identity provider the operator names (public bodies commonly have one).
//! The provider's discovery document and keys are read on first use and
//! kept an hour. A verified e-mail address in the ID token signs in the
//! account that uses it; there is no account made on the fly, so access
//! stays what admins gave (an invitation, or `mesure user add
//! --no-password`).
//!
//! The flow's secrets (state, nonce, PKCE verifier) and the page to come
//! back to live in one short cookie of the browser that started it,
//! `SameSite=Lax` so that it comes back with the provider's redirect.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a started sign-in may take at the provider.
pub const FLOW_SECONDS: i64 = 600;
/// How long the provider's discovery document and keys are kept.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Time the provider has to answer one request.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The `[oidc]` section. Without an issuer, single sign-on is off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is under
    /// `/.well-known/openid-configuration`). Empty: off.
    pub issuer: String,
    pub client_id: String,
    /// The client's secret at the provider (set it from the environment:
    /// `MESURE_OIDC_CLIENT_SECRET`).
    pub client_secret: String,
    /// This dashboard's callback as the provider knows it:
    /// `https://HOST/sign-in/oidc/callback`.
    pub redirect_url: String,
    /// The button's words on the sign-in page ("ProConnect", "Agents").
    pub label: String,
    /// Scopes asked besides `openid`.
    pub scopes: Vec<String>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_url: String::new(),
            label: "SSO".to_owned(),
            scopes: vec!["email".to_owned()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcConfigError {
    #[error("oidc.{0} is required when oidc.issuer is set")]
    Missing(&'static str),
    #[error("oidc.{0}: {1}")]
    Url(&'static str, String),
}

impl OidcConfig {
    pub fn enabled(&self) -> bool {
        !self.issuer.is_empty()
    }

    pub fn validate(&self) -> Result<(), OidcConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        if self.client_id.is_empty() {
            return Err(OidcConfigError::Missing("client_id"));
        }
        IssuerUrl::new(self.issuer.clone())
            .map_err(|e| OidcConfigError::Url("issuer", e.to_string()))?;
        if self.redirect_url.is_empty() {
            return Err(OidcConfigError::Missing("redirect_url"));
        }
        RedirectUrl::new(self.redirect_url.clone())
            .map_err(|e| OidcConfigError::Url("redirect_url", e.to_string()))?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider cannot be reached: {0}")]
    Provider(String),
    #[error("this sign-in was not started here, or took too long")]
    State,
    #[error("the identity provider refused: {0}")]
    Refused(String),
    #[error("the identity provider's answer is not valid: {0}")]
    Token(String),
    #[error("the identity provider gives no verified e-mail address")]
    NoEmail,
}

/// A started sign-in, as its cookie holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// The dashboard's page to show after.
    pub next: String,
}

impl Flow {
    /// The cookie's value: four fields, `next` hex-encoded.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.state,
            self.nonce,
            self.verifier,
            hex::encode(&self.next)
        )
    }

    pub fn decode(text: &str) -> Option<Flow> {
        let mut parts = text.split('.');
        let (state, nonce, verifier, next) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let token = |t: &str| {
            !t.is_empty()
                && t.len() <= 200
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if parts.next().is_some() || !token(state) || !token(nonce) || !token(verifier) {
            return None;
        }
        let next = String::from_utf8(hex::decode(next).ok()?).ok()?;
        Some(Flow {
            state: state.to_owned(),
            nonce: nonce.to_owned(),
            verifier: verifier.to_owned(),
            next: crate::auth::next_path(&next),
        })
    }
}

/// The provider, as discovered.
#[derive(Debug)]
pub struct Provider {
    config: OidcConfig,
    http: openidconnect::reqwest::Client,
    discovered: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl Provider {
    pub fn new(config: OidcConfig) -> Result<Arc<Provider>, OidcError> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let the provider send us elsewhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        Ok(Arc::new(Provider {
            config,
            http,
            discovered: Mutex::new(None),
        }))
    }

    pub fn label(&self) -> &str {
        &self.config.label
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let mut discovered = self.discovered.lock().await;
        if let Some((at, metadata)) = discovered.as_ref()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        *discovered = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let secret = (!self.config.client_secret.is_empty())
            .then(|| ClientSecret::new(self.config.client_secret.clone()));
        let redirect = RedirectUrl::new(self.config.redirect_url.clone())
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's address to send the browser to,
    /// and the flow its cookie keeps.
    pub async fn start(&self, next: &str) -> Result<(String, Flow), OidcError> {
        let client = self.client(self.metadata().await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let flow = Flow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: crate::auth::next_path(next),
        };
        Ok((url.to_string(), flow))
    }

    /// Finishes a sign-in: checks the state against the flow, exchanges
    /// the code, verifies the ID token (signature, issuer, audience,
    /// expiry, nonce) and returns its verified e-mail address.
    pub async fn finish(&self, flow: &Flow, state: &str, code: &str) -> Result<String, OidcError> {
        if !crate::auth::same_secret(state, &flow.state) {
            return Err(OidcError::State);
        }
        let client = self.client(self.metadata().await?)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(e.to_string()))?;
        let token = response
            .id_token()
            .ok_or_else(|| OidcError::Token("no ID token".into()))?;
        let verifier = client.id_token_verifier();
        let claims: &CoreIdTokenClaims = token
            .claims(&verifier, &Nonce::new(flow.nonce.clone()))
            .map_err(|e| OidcError::Token(e.to_string()))?;
        match (claims.email(), claims.email_verified()) {
            (Some(email), Some(true)) => Ok(email.as_str().to_owned()),
            _ => Err(OidcError::NoEmail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_survives_its_cookie_and_nothing_else_does() {
        let flow = Flow {
            state: "s-1_A".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: "/sites/a?period=7d".into(),
        };
        assert_eq!(Flow::decode(&flow.encode()), Some(flow.clone()));
        for bad in [
            "",
            "a.b.c",
            "a.b.c.zz",
            "a.b.c.00.e",
            "a b.c.d.00",
            "a.b.c.2f2f6576696c",
        ] {
            let decoded = Flow::decode(bad);
            assert!(decoded.is_none_or(|f| f.next == "/"), "{bad}");
        }
        // Another site is never where a flow leads.
        let away = Flow {
            next: "//evil.example".into(),
            ..flow
        };
        assert_eq!(
            Flow::decode(&away.encode()).map(|f| f.next),
            Some("/".into())
        );
    }

    #[test]
    fn a_half_configured_provider_is_refused() {
        assert_eq!(OidcConfig::default().validate(), Ok(()));
        let half = OidcConfig {
            issuer: "https://id.example.gouv.fr".into(),
            ..OidcConfig::default()
        };
        assert_eq!(half.validate(), Err(OidcConfigError::Missing("client_id")));
        let no_callback = OidcConfig {
            client_id: "mesure".into(),
            ..half
        };
        assert_eq!(
            no_callback.validate(),
            Err(OidcConfigError::Missing("redirect_url"))
        );
    }
}
