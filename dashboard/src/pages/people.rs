//! Who may read a site, managed by its admins at `/sites/{id}/users`:
//! the site's members and their roles (changed or taken away), those who
//! read it through its organisation (shown, managed by the organisation's
//! admins), pending invitations (revocable), and the invitation form. An
//! address with an account gets the role at once; any other gets a
//! one-time link (`/invite/SECRET`, valid 7 days) shown once for the
//! admin to send: no mail server is needed. Opening it sets the password
//! and signs the new user in. Every change is audited.

use super::annotate::{admin_form, field, same_origin};
use super::i18n::{Arg, Lang};
use super::view::View;
use super::{
    Account, Notice, admin_layout, admin_page, admin_post, administered_site, finish_admin, html,
    lang_of, page, see_other, store_down,
};
use crate::api::ApiError;
use crate::app::AppState;
use crate::audit::{self, Action, Actor};
use crate::auth::{self, Viewer};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use maud::{Markup, html};
use mesure_accounts::invitations::Invitation;
use mesure_accounts::users::AccountError;
use mesure_accounts::{Role, User};
use mesure_sites::Site;
use std::sync::Arc;
use std::time::Instant;

/// A refused value, in the page's words.
fn refusal(lang: Lang, error: &AccountError) -> Option<String> {
    let key = match error {
        AccountError::Email(_) => "people-error-email",
        AccountError::Exists(_) => "people-error-exists",
        AccountError::Name => "people-error-name",
        AccountError::Password(_) => "people-error-password",
        AccountError::Target(_) => "people-error-pending",
        AccountError::Unknown(_) => "people-error-unknown",
        AccountError::Role(_) => "people-error-role",
        AccountError::Store(_) => return None,
    };
    Some(lang.t(key))
}

pub(super) fn role_name(lang: Lang, role: Role) -> String {
    lang.t(match role {
        Role::Admin => "role-admin",
        Role::Viewer => "role-viewer",
    })
}

/// The members of a site or an organisation, each with forms to change
/// their role (`{here}/role`) or take it away (`{here}/remove`).
pub(super) fn members_table(
    lang: Lang,
    here: &str,
    members: &[(User, Role)],
    csrf: &str,
) -> Markup {
    html! {
        @if members.is_empty() {
            p { (lang.t("people-none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("people-email")) }
                    th scope="col" { (lang.t("people-role")) }
                    th scope="col" { span.visually-hidden { (lang.t("people-remove-short")) } }
                } }
                tbody {
                    @for (user, role) in members {
                        @let email = Arg::Text(user.email.clone());
                        tr {
                            th scope="row" { (user.email) @if !user.name.is_empty() { br; span.muted { (user.name) } } }
                            td {
                                form.inline method="post" action=(format!("{here}/role")) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="user" value=(user.id);
                                    (role_choice(lang, Some(*role)))
                                    button type="submit" aria-label=(lang.t_with("people-change", &[("email", email.clone())])) { (lang.t("people-change-short")) }
                                }
                            }
                            td {
                                form.inline method="post" action=(format!("{here}/remove")) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="user" value=(user.id);
                                    button type="submit" aria-label=(lang.t_with("people-remove", &[("email", email)])) { (lang.t("people-remove-short")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A role to choose, `current` chosen.
pub(super) fn role_choice(lang: Lang, current: Option<Role>) -> Markup {
    html! {
        select name="role" aria-label=(lang.t("people-role")) {
            @for role in [Role::Viewer, Role::Admin] {
                option value=(role.as_str()) selected[current == Some(role)] { (role_name(lang, role)) }
            }
        }
    }
}

/// The page of `site` for its admin `viewer`.
async fn render(
    state: &AppState,
    (viewer, site): (&Viewer, &Site),
    lang: Lang,
    (status, shown): (StatusCode, Notice),
) -> Result<Response, ApiError> {
    let store = &state.accounts;
    let members = store.site_members(&site.id).await.map_err(store_down)?;
    let through = if site.organisation.is_empty() {
        Vec::new()
    } else {
        store
            .organisation_members(&site.organisation)
            .await
            .map_err(store_down)?
    };
    let now = (state.now_ms)();
    let pending: Vec<Invitation> = store
        .invitations_of_site(&site.id)
        .await
        .map_err(store_down)?
        .into_iter()
        .filter(|i| i.live(now))
        .collect();
    let account = Account::of(viewer);
    let here = format!("/sites/{}/users", site.id);
    let title = lang.t_with("people-title", &[("site", Arg::Text(site.id.to_string()))]);
    let csrf = &account.csrf;
    let body = html! {
        h1 { (title) }
        p { a href=(format!("/sites/{}", site.id)) { (lang.t("settings-back")) } }
        (shown.markup(lang, ("people-link-title", "people-link-help")))
        section.card aria-labelledby="members" {
            h2 #members { (lang.t("people-members")) }
            (members_table(lang, &here, &members, csrf))
            @if !through.is_empty() {
                h3 { (lang.t_with("people-through", &[("organisation", Arg::Text(site.organisation.clone()))])) }
                ul {
                    @for (user, role) in &through {
                        li { (user.email) " – " (role_name(lang, *role)) }
                    }
                }
            }
        }
        @if !pending.is_empty() {
            section.card aria-labelledby="pending" {
                h2 #pending { (lang.t("people-pending")) }
                ul {
                    @for invitation in &pending {
                        li {
                            (invitation.email) " – " (role_name(lang, invitation.role))
                            form.inline method="post" action=(format!("{here}/invitations/{}/revoke", invitation.id)) {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" aria-label=(lang.t_with("people-revoke", &[("email", Arg::Text(invitation.email.clone()))])) { (lang.t("people-revoke-short")) }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="invite" {
            h2 #invite { (lang.t("people-invite")) }
            form.settings method="post" action=(here) {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { (lang.t("people-email")) }
                input #email type="email" name="email" required maxlength="254" autocomplete="off";
                (role_choice(lang, None))
                p.help { (lang.t("people-invite-help")) }
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

/// `GET /sites/{id}/users`.
pub async fn list(
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
            render(state, (&viewer, &site), lang, shown).await
        },
    )
    .await
}

/// Runs a form of the page: `work` gets the admin, the site and the
/// fields, and returns what to show (or a refused account value).
async fn serve(
    state: &AppState,
    (id, headers, body): (&str, &HeaderMap, &[u8]),
    work: impl AsyncFnOnce(&Viewer, &Arc<Site>, &[(String, String)]) -> Result<Notice, AccountError>,
) -> Response {
    admin_post(state, headers, body, async |fields, lang| {
        let (viewer, site) = admin_form(state, id, headers, &fields).await?;
        match work(&viewer, &site, &fields).await {
            Ok(shown) if shown.made.is_some() => {
                render(state, (&viewer, &site), lang, (StatusCode::OK, shown)).await
            }
            Ok(_) => Ok(see_other(&format!("/sites/{}/users", site.id))),
            Err(error) => {
                let Some(message) = refusal(lang, &error) else {
                    return Err(store_down(error));
                };
                let status = match error {
                    AccountError::Unknown(_) => StatusCode::NOT_FOUND,
                    _ => StatusCode::BAD_REQUEST,
                };
                render(
                    state,
                    (&viewer, &site),
                    lang,
                    (status, Notice::refused(message)),
                )
                .await
            }
        }
    })
    .await
}

fn role_field(fields: &[(String, String)]) -> Result<Role, AccountError> {
    let text = field(fields, "role");
    Role::parse(text).ok_or_else(|| AccountError::Role(text.chars().take(20).collect()))
}

const DONE: Notice = Notice {
    message: None,
    made: None,
};

/// The absolute address of `path` as the admin reached this dashboard.
pub(super) fn absolute(headers: &HeaderMap, path: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let scheme = if auth::plain_local(headers) {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{host}{path}")
}

/// `POST /sites/{id}/users`: `email`, `role`. An address with an account
/// gets the role at once; any other an invitation.
pub async fn invite(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    serve(
        state,
        (&id, &headers, &body),
        async |viewer, site, fields| {
            let role = role_field(fields)?;
            let store = &state.accounts;
            let email = mesure_accounts::users::normalise_email(field(fields, "email"))?;
            let detail = format!("{email}: {} on site {}", role.as_str(), site.id);
            if let Some(user) = store.user_by_email(&email).await? {
                store.grant_site(&user.id, &site.id, role).await?;
                audit::note(state, &viewer.actor, Action::RoleGranted, &site.id, &detail).await;
                return Ok(DONE);
            }
            let now = (state.now_ms)();
            let (_, secret) = store
                .invite(&viewer.user, &email, (&site.id, role), now)
                .await?;
            audit::note(state, &viewer.actor, Action::Invited, &site.id, &detail).await;
            Ok(Notice {
                message: None,
                made: Some(absolute(&headers, &format!("/invite/{secret}"))),
            })
        },
    )
    .await
}

/// The member a form names, with a role on this site.
async fn member(
    state: &AppState,
    site: &Site,
    fields: &[(String, String)],
) -> Result<User, AccountError> {
    let id = field(fields, "user");
    state
        .accounts
        .site_members(&site.id)
        .await?
        .into_iter()
        .map(|(user, _)| user)
        .find(|user| user.id == id)
        .ok_or_else(|| AccountError::Unknown(id.chars().take(40).collect()))
}

/// `POST /sites/{id}/users/role`: `user`, `role`.
pub async fn change_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    serve(
        state,
        (&id, &headers, &body),
        async |viewer, site, fields| {
            let role = role_field(fields)?;
            let user = member(state, site, fields).await?;
            state.accounts.grant_site(&user.id, &site.id, role).await?;
            let detail = format!("{}: {} on site {}", user.email, role.as_str(), site.id);
            audit::note(state, &viewer.actor, Action::RoleGranted, &site.id, &detail).await;
            Ok(DONE)
        },
    )
    .await
}

/// `POST /sites/{id}/users/remove`: `user`.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    serve(
        state,
        (&id, &headers, &body),
        async |viewer, site, fields| {
            let user = member(state, site, fields).await?;
            state.accounts.revoke_site(&user.id, &site.id).await?;
            let detail = format!("{}: site {}", user.email, site.id);
            audit::note(state, &viewer.actor, Action::RoleRevoked, &site.id, &detail).await;
            Ok(DONE)
        },
    )
    .await
}

/// `POST /sites/{id}/users/invitations/{invitation}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Path((id, invitation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    serve(state, (&id, &headers, &body), async |viewer, site, _| {
        let store = &state.accounts;
        let found = store
            .invitation_by_id(&invitation)
            .await?
            .filter(|i| i.site_id == site.id.as_ref())
            .ok_or_else(|| AccountError::Unknown(invitation.chars().take(40).collect()))?;
        store.revoke_invitation(&found.id, (state.now_ms)()).await?;
        let detail = format!("{}: revoked", found.email);
        audit::note(
            state,
            &viewer.actor,
            Action::InvitationRevoked,
            &site.id,
            &detail,
        )
        .await;
        Ok(DONE)
    })
    .await
}

/// The invitation form: a name and a password, twice.
fn accept_form(lang: Lang, action: &str, email: &str, message: Option<String>) -> String {
    let body = html! {
        h1 { (lang.t("invite-title")) }
        p { (lang.t_with("invite-intro", &[("email", Arg::Text(email.to_owned()))])) }
        @if let Some(message) = message {
            p.message role="alert" { (message) }
        }
        form.sign-in method="post" action=(action) {
            label { (lang.t("invite-name")) input name="name" maxlength="120" autocomplete="name"; }
            label { (lang.t("sign-in-password")) input type="password" name="password" required minlength="12" autocomplete="new-password"; }
            label { (lang.t("invite-again")) input type="password" name="again" required minlength="12" autocomplete="new-password"; }
            p.help { (lang.t("invite-password-help")) }
            button type="submit" { (lang.t("invite-submit")) }
        }
    };
    html::layout(
        lang,
        (&lang.t("invite-title"), action),
        &View::default(),
        None,
        html! {},
        body,
    )
}

/// `GET /invite/{secret}`.
pub async fn open(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let lang = lang_of(raw.as_deref(), &headers);
    let outcome = async {
        let invitation = state
            .accounts
            .invitation(&secret, (state.now_ms)())
            .await
            .map_err(store_down)?
            .ok_or_else(gone)?;
        let action = format!("/invite/{secret}");
        Ok(page(
            StatusCode::OK,
            lang,
            accept_form(lang, &action, &invitation.email, None),
        ))
    }
    .await;
    finish_admin(&state, started, outcome, lang)
}

/// An invitation used, expired, revoked or unknown: all alike.
fn gone() -> ApiError {
    ApiError::Refused {
        status: StatusCode::NOT_FOUND,
        key: "invite-gone",
        detail: "this invitation is used, expired or unknown".into(),
    }
}

/// `POST /invite/{secret}`: `name`, `password`, `again`.
pub async fn accept(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    admin_post(state, &headers, &body, async |fields, lang| {
        same_origin(&headers)?;
        let now = (state.now_ms)();
        let store = &state.accounts;
        let invitation = store
            .invitation(&secret, now)
            .await
            .map_err(store_down)?
            .ok_or_else(gone)?;
        let action = format!("/invite/{secret}");
        let again = |key: &str| {
            page(
                StatusCode::BAD_REQUEST,
                lang,
                accept_form(lang, &action, &invitation.email, Some(lang.t(key))),
            )
        };
        let (name, password) = (field(&fields, "name"), field(&fields, "password"));
        if password != field(&fields, "again") {
            return Ok(again("invite-mismatch"));
        }
        let (user, invitation) = match store.accept(&secret, (name, password), now).await {
            Ok(Some(accepted)) => accepted,
            Ok(None) => return Err(gone()),
            Err(AccountError::Password(_)) => return Ok(again("people-error-password")),
            Err(AccountError::Name) => return Ok(again("people-error-name")),
            Err(error) => return Err(store_down(error)),
        };
        let actor = Actor {
            name: user.email.clone(),
            credential: String::new(),
            address: auth::address(&headers),
        };
        let detail = format!(
            "{}: {} on site {}",
            user.email,
            invitation.role.as_str(),
            invitation.site_id
        );
        audit::note(
            state,
            &actor,
            Action::InvitationAccepted,
            &invitation.site_id,
            &detail,
        )
        .await;
        let opened = store.open_session(&user, now).await.map_err(store_down)?;
        let mut response = see_other(&format!("/sites/{}", invitation.site_id));
        response.headers_mut().insert(
            header::SET_COOKIE,
            auth::set_cookie(&headers, Some((&opened.secret, state.policy.max_ms))),
        );
        Ok(response)
    })
    .await
}
