//! An organisation's page, `/organisations/{name}`, for its admins and
//! superusers: its sites, and who reads or administers every one of them
//! (roles changed, taken away, or given to an existing account). To anyone
//! else an organisation is answered as if it did not exist. Each change is
//! audited once per site of the organisation, so each site's admins see it.

use super::annotate::{field, session_form};
use super::i18n::{Arg, Lang};
use super::people::{members_table, role_choice};
use super::{Account, admin_layout, admin_page, admin_post, see_other, store_down};
use crate::api::ApiError;
use crate::app::{AppState, registry};
use crate::audit::{self, Action};
use crate::auth::Viewer;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html;
use mesure_accounts::Role;
use mesure_accounts::users::AccountError;

/// Whether `viewer` administers organisation `name`.
fn administers(viewer: &Viewer, name: &str) -> bool {
    viewer.access.superuser || viewer.access.organisations.get(name) == Some(&Role::Admin)
}

/// The organisation's sites, if `viewer` administers it and it has any.
fn sites_of(state: &AppState, viewer: &Viewer, name: &str) -> Result<Vec<String>, ApiError> {
    let (sites, _) = registry(state)?;
    let mut ids: Vec<String> = sites
        .iter()
        .filter(|s| s.organisation == name)
        .map(|s| s.id.to_string())
        .collect();
    if ids.is_empty() || !administers(viewer, name) {
        return Err(ApiError::UnknownSite);
    }
    ids.sort();
    Ok(ids)
}

async fn render(
    state: &AppState,
    (viewer, name): (&Viewer, &str),
    lang: Lang,
    (status, message): (StatusCode, Option<String>),
) -> Result<Response, ApiError> {
    let sites = sites_of(state, viewer, name)?;
    let members = state
        .accounts
        .organisation_members(name)
        .await
        .map_err(store_down)?;
    let account = Account::of(viewer);
    let csrf = &account.csrf;
    let here = format!("/organisations/{}", encode(name));
    let title = lang.t_with(
        "organisation-title",
        &[("organisation", Arg::Text(name.to_owned()))],
    );
    let body = html! {
        h1 { (title) }
        @if let Some(message) = &message {
            p.message role="alert" { (message) }
        }
        section.card aria-labelledby="org-sites" {
            h2 #org-sites { (lang.t("nav-sites")) }
            ul { @for site in &sites { li { a href=(format!("/sites/{site}")) { (site) } } } }
        }
        section.card aria-labelledby="org-members" {
            h2 #org-members { (lang.t("organisation-members")) }
            (members_table(lang, &here, &members, csrf))
            form.settings method="post" action=(here) {
                h3 { (lang.t("people-invite")) }
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { (lang.t("people-email")) }
                input #email type="email" name="email" required maxlength="254";
                (role_choice(lang, None))
                p.help { (lang.t("organisation-add-help")) }
                button type="submit" { (lang.t("people-invite-submit")) }
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

/// An organisation's name in a path.
fn encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `GET /organisations/{name}`.
pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &state;
    admin_page(
        state,
        (&uri, raw.as_deref()),
        &headers,
        async |viewer, lang| render(state, (&viewer, &name), lang, (StatusCode::OK, None)).await,
    )
    .await
}

/// Runs a form of the page: `work` changes roles and returns the audit
/// entry, or the refusal's message key.
async fn serve(
    state: &AppState,
    (name, headers, body): (&str, &HeaderMap, &[u8]),
    work: impl AsyncFnOnce(
        &[(String, String)],
    ) -> Result<Result<(Action, String), &'static str>, AccountError>,
) -> Response {
    admin_post(state, headers, body, async |fields, lang| {
        let viewer = session_form(state, headers, &fields).await?;
        let sites = sites_of(state, &viewer, name)?;
        match work(&fields).await.map_err(store_down)? {
            Ok((action, detail)) => {
                for site in &sites {
                    audit::note(state, &viewer.actor, action, site, &detail).await;
                }
                Ok(see_other(&format!("/organisations/{}", encode(name))))
            }
            Err(key) => {
                let refused = (StatusCode::BAD_REQUEST, Some(lang.t(key)));
                render(state, (&viewer, name), lang, refused).await
            }
        }
    })
    .await
}

fn role_of(fields: &[(String, String)]) -> Option<Role> {
    Role::parse(field(fields, "role"))
}

/// `POST /organisations/{name}`: `email`, `role`; an existing account only.
pub async fn add(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let store = &state.accounts;
    let org = name.clone();
    serve(&state, (&name, &headers, &body), async |fields| {
        let Some(role) = role_of(fields) else {
            return Ok(Err("people-error-role"));
        };
        let Ok(email) = mesure_accounts::users::normalise_email(field(fields, "email")) else {
            return Ok(Err("people-error-email"));
        };
        let Some(user) = store.user_by_email(&email).await? else {
            return Ok(Err("organisation-error-no-account"));
        };
        store.grant_organisation(&user.id, &org, role).await?;
        let detail = format!("{email}: {} on organisation {org}", role.as_str());
        Ok(Ok((Action::RoleGranted, detail)))
    })
    .await
}

/// The member a form names, with a role on the organisation.
async fn member(
    state: &AppState,
    org: &str,
    fields: &[(String, String)],
) -> Result<Option<mesure_accounts::User>, AccountError> {
    let id = field(fields, "user");
    Ok(state
        .accounts
        .organisation_members(org)
        .await?
        .into_iter()
        .map(|(user, _)| user)
        .find(|user| user.id == id))
}

/// `POST /organisations/{name}/role`: `user`, `role`.
pub async fn change_role(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    let org = name.clone();
    serve(state, (&name, &headers, &body), async |fields| {
        let (Some(role), Some(user)) = (role_of(fields), member(state, &org, fields).await?) else {
            return Ok(Err("people-error-unknown"));
        };
        state
            .accounts
            .grant_organisation(&user.id, &org, role)
            .await?;
        let detail = format!("{}: {} on organisation {org}", user.email, role.as_str());
        Ok(Ok((Action::RoleGranted, detail)))
    })
    .await
}

/// `POST /organisations/{name}/remove`: `user`.
pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    let org = name.clone();
    serve(state, (&name, &headers, &body), async |fields| {
        let Some(user) = member(state, &org, fields).await? else {
            return Ok(Err("people-error-unknown"));
        };
        state.accounts.revoke_organisation(&user.id, &org).await?;
        let detail = format!("{}: organisation {org}", user.email);
        Ok(Ok((Action::RoleRevoked, detail)))
    })
    .await
}
