//! `/sites/{id}/notice`: the site's privacy notice, for anyone who reads
//! the site (its data protection officer may be a reader), shown in the
//! page's language and downloadable as Markdown (`format=md`) or as an
//! HTML fragment (`format=html`), to paste into the site's privacy policy.

use super::i18n::Lang;
use super::{Account, admin_layout, admin_page, visible_site};
use crate::app::{AppState, attachment};
use crate::notice::{self, Format};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{PreEscaped, html};

/// `GET /sites/{id}/notice?lang=&format=`.
pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &state;
    let format = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned());
    admin_page(
        state,
        (&uri, raw.as_deref()),
        &headers,
        async |viewer, lang| {
            let site = visible_site(state, &viewer, &id)?;
            let text = |format| notice::notice(&state.notice, &site, lang, format);
            let name =
                |extension: &str| format!("mesure-notice-{}-{}.{extension}", site.id, lang.code());
            match format.as_deref().map(Format::parse) {
                Some(Some(Format::Markdown)) => Ok(attachment(
                    "text/markdown; charset=utf-8",
                    &name("md"),
                    text(Format::Markdown).into_bytes(),
                )),
                Some(Some(Format::Html)) => Ok(attachment(
                    "text/html; charset=utf-8",
                    &name("html"),
                    text(Format::Html).into_bytes(),
                )),
                Some(None) => Err(crate::api::ApiError::BadRequest(
                    "format is md or html".into(),
                )),
                None => {
                    let here = format!("/sites/{}/notice", site.id);
                    let title =
                        lang.t_with("notice-title", &[("site", site.id.to_string().into())]);
                    let link = |format: &str, other: Lang| {
                        format!("{here}?lang={}&format={format}", other.code())
                    };
                    let body = html! {
                        h1 { (title) }
                        p { a href=(format!("/sites/{}", site.id)) { (lang.t("settings-back")) } }
                        p { (lang.t("notice-intro")) }
                        ul {
                            @for other in Lang::ALL {
                                li lang=(other.code()) {
                                    (other.own_name()) " : "
                                    a href=(link("md", other)) download { "Markdown" }
                                    " · "
                                    a href=(link("html", other)) download { "HTML" }
                                }
                            }
                        }
                        // Built by `notice::notice`, which escapes every value.
                        section.card.notice { (PreEscaped(text(Format::Html))) }
                    };
                    let account = Account::of(&viewer);
                    Ok(admin_layout(
                        (StatusCode::OK, lang),
                        (&title, &here),
                        &account,
                        body,
                    ))
                }
            }
        },
    )
    .await
}
