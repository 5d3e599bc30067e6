//! The forms that write: a note added to a site's chart, a note removed.
//! Each is a `POST` from the overview that answers `303` back to the view
//! it came from, and is refused unless it comes from the dashboard's own
//! origin (a page elsewhere cannot post through a visitor's browser).

use super::{error_page, read_view};
use crate::annotations::{self, AnnotationError};
use crate::api::{ApiError, v2};
use crate::app::{AppState, count, registry};
use crate::audit::{self, Action};
use crate::auth::{self, Viewer};
use crate::query::period;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

impl From<AnnotationError> for ApiError {
    fn from(error: AnnotationError) -> ApiError {
        let status = match error {
            AnnotationError::ClickHouse(e) => return ApiError::Unavailable(e.to_string()),
            AnnotationError::Random(e) => return ApiError::Internal(e),
            AnnotationError::Unknown => StatusCode::NOT_FOUND,
            AnnotationError::Text | AnnotationError::Date(_) | AnnotationError::Full => {
                StatusCode::BAD_REQUEST
            }
        };
        ApiError::Refused {
            status,
            key: error.key(),
            detail: error.to_string(),
        }
    }
}

/// Refuses a request that does not come from a page of this dashboard:
/// its `Origin` must name the host it was sent to (or, without one, the
/// browser must say it is same-origin).
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let host = text(header::HOST);
    let same = match text(header::ORIGIN) {
        Some(origin) => {
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            authority.is_some() && authority == host
        }
        None => text(header::HeaderName::from_static("sec-fetch-site")) == Some("same-origin"),
    };
    if same {
        Ok(())
    } else {
        Err(not_ours("a form sent from another origin"))
    }
}

/// A form refused as not coming from this dashboard's pages.
fn not_ours(detail: &str) -> ApiError {
    ApiError::Refused {
        status: StatusCode::FORBIDDEN,
        key: "error-cross-origin",
        detail: detail.to_owned(),
    }
}

/// A form's fields, by name (the first of each).
pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Refuses a form without the session's CSRF token (`csrf`).
pub(crate) fn check_csrf(viewer: &Viewer, fields: &[(String, String)]) -> Result<(), ApiError> {
    if auth::same_secret(field(fields, "csrf"), &viewer.csrf) {
        Ok(())
    } else {
        Err(not_ours("a form without this session's token"))
    }
}

/// The viewer of a form posted from this dashboard's origin, with a live
/// session and its token.
pub(crate) async fn session_form(
    state: &AppState,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Result<Viewer, ApiError> {
    same_origin(headers)?;
    let viewer = auth::viewer(state, headers)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    check_csrf(&viewer, fields)?;
    Ok(viewer)
}

/// The viewer and the site of a form posted by one of the site's admins:
/// from this dashboard's origin, with a live session and its token.
pub(crate) async fn admin_form(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Result<(Viewer, std::sync::Arc<mesure_sites::Site>), ApiError> {
    let viewer = session_form(state, headers, fields).await?;
    let (sites, _) = registry(state)?;
    let (site, _) = v2::find_site(&sites, id)?;
    viewer.check_admin(&site)?;
    Ok((viewer, site))
}

/// Runs a form: reads its fields and the view it came from (`view`),
/// checks the origin, the session, its token and the admin role on the
/// site, runs `work` within the receive timeout, and answers `303` back to
/// the view's overview, or the error page.
async fn serve_form<F, Fut>(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    (action, work): (Action, F),
) -> Response
where
    F: FnOnce(std::sync::Arc<mesure_sites::Site>, Vec<(String, String)>) -> Fut,
    Fut: Future<Output = Result<String, ApiError>>,
{
    let started = Instant::now();
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let (view, lang) = match read_view(Some(field(&fields, "view")), headers) {
        Ok(read) => read,
        Err(response) => return *response,
    };
    let outcome = async {
        let (viewer, site) = admin_form(state, id, headers, &fields).await?;
        let here = format!("/sites/{}", site.id);
        let detail =
            match tokio::time::timeout(state.timeouts.receive, work(site.clone(), fields)).await {
                Ok(done) => done?,
                Err(_) => return Err(ApiError::Unavailable("annotation timed out".into())),
            };
        audit::note(state, &viewer.actor, action, &site.id, &detail).await;
        let back = format!("{}#annotations", view.link(&here, |_| {}));
        let location = HeaderValue::from_str(&back)
            .map_err(|e| ApiError::Internal(format!("redirect: {e}")))?;
        Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
    }
    .await;
    let response = outcome.unwrap_or_else(|error| error_page(&error, lang));
    count(state, "annotation", started, &response);
    response
}

/// `POST /sites/{id}/annotations`: `date` (YYYY-MM-DD, the site's local
/// date), `text`, `view`.
pub async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    let work = |site: std::sync::Arc<mesure_sites::Site>, fields: Vec<(String, String)>| async move {
        let now = (state.now_ms)();
        let tz = site.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let note = annotations::parse(
            field(&fields, "date"),
            field(&fields, "text"),
            period::local_date(tz, now),
        )?;
        let detail = format!("{} {}", note.0, note.1);
        annotations::add(&state.reader.client, &site.id, note, now).await?;
        Ok(detail)
    };
    serve_form(state, &id, &headers, &body, (Action::NoteAdded, work)).await
}

/// `POST /sites/{id}/annotations/{note}/delete`: `view`.
pub async fn remove(
    State(state): State<AppState>,
    Path((id, note)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &state;
    let work = |site: std::sync::Arc<mesure_sites::Site>, _| async move {
        let id: u64 = note.parse().map_err(|_| AnnotationError::Unknown)?;
        let now = (state.now_ms)();
        annotations::remove(&state.reader.client, &site.id, id, now).await?;
        Ok(format!("note {id}"))
    };
    serve_form(state, &id, &headers, &body, (Action::NoteRemoved, work)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::auth::test_headers as headers;

    #[test]
    fn only_the_dashboards_own_pages_may_post() {
        let host = ("host", "127.0.0.1:8080");
        for ok in [
            headers(&[host, ("origin", "http://127.0.0.1:8080")]),
            headers(&[host, ("origin", "https://127.0.0.1:8080")]),
            headers(&[host, ("sec-fetch-site", "same-origin")]),
        ] {
            assert!(same_origin(&ok).is_ok(), "{ok:?}");
        }
        for refused in [
            headers(&[host]),
            headers(&[host, ("origin", "http://evil.example")]),
            headers(&[host, ("origin", "http://127.0.0.1:8081")]),
            headers(&[host, ("origin", "null")]),
            headers(&[host, ("sec-fetch-site", "cross-site")]),
            headers(&[("origin", "http://127.0.0.1:8080")]),
        ] {
            let error = same_origin(&refused).expect_err("refused");
            assert_eq!(error.status(), StatusCode::FORBIDDEN, "{refused:?}");
        }
    }
}
