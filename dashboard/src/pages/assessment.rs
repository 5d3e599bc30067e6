//! `/sites/{id}/assessment`: the site's self-assessment against the
//! consent exemption, for anyone who reads the site (its data protection
//! officer may be a reader): a dated page to print, or to download as
//! Markdown (`format=md`) or as a standalone HTML file (`format=html`).

use super::i18n::Lang;
use super::{Account, admin_layout, admin_page, visible_site};
use crate::api::ApiError;
use crate::app::{AppState, attachment};
use crate::assessment::{self, Check};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{DOCTYPE, Markup, html};

fn table(lang: Lang, checks: &[Check]) -> Markup {
    html! {
        table.assessment {
            thead { tr {
                th scope="col" { (lang.t("assessment-condition")) }
                th scope="col" { (lang.t("assessment-status")) }
                th scope="col" { (lang.t("assessment-reason")) }
            } }
            tbody {
                @for check in checks {
                    tr data-check=(check.id) {
                        th scope="row" { (check.condition) }
                        td.(if check.met { "met" } else { "not-met" }) {
                            (lang.t(if check.met { "assessment-met" } else { "assessment-not-met" }))
                        }
                        td {
                            (check.reason)
                            @if let Some(remedy) = &check.remedy {
                                br; strong { (lang.t("assessment-remedy")) } " " (remedy)
                            }
                        }
                    }
                }
            }
        }
    }
}

fn sources(lang: Lang) -> Markup {
    html! {
        h2 { (lang.t("assessment-sources")) }
        ul { @for source in assessment::sources(lang) { li { (source) } } }
        p.note { (assessment::disclaimer(lang)) }
    }
}

/// `GET /sites/{id}/assessment?lang=&format=`.
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
    admin_page(state, (&uri, raw.as_deref()), &headers, async |viewer, lang| {
        let site = visible_site(state, &viewer, &id)?;
        let date = chrono::DateTime::from_timestamp_millis((state.now_ms)())
            .unwrap_or_default()
            .date_naive()
            .to_string();
        let facts = &state.notice;
        let probe = assessment::probe_optout(&facts.config.optout_url, facts.retention_months).await;
        let checks = assessment::assess(facts, &site, lang, &probe);
        let title = lang.t_with("assessment-title", &[("site", site.id.to_string().into())]);
        let dated = lang.t_with("assessment-date", &[("date", date.clone().into())]);
        let name = |ext: &str| format!("mesure-assessment-{}-{date}.{ext}", site.id);
        match format.as_deref() {
            Some("md") => Ok(attachment(
                "text/markdown; charset=utf-8",
                &name("md"),
                assessment::markdown(facts, &site, lang, (&date, &probe)).into_bytes(),
            )),
            Some("html") => {
                let document = html! {
                    (DOCTYPE)
                    html lang=(lang.code()) {
                        head { meta charset="utf-8"; title { (title) } }
                        body {
                            h1 { (title) }
                            p { (dated) }
                            (table(lang, &checks))
                            (sources(lang))
                        }
                    }
                };
                Ok(attachment(
                    "text/html; charset=utf-8",
                    &name("html"),
                    document.into_string().into_bytes(),
                ))
            }
            Some(_) => Err(ApiError::BadRequest("format is md or html".into())),
            None => {
                let here = format!("/sites/{}/assessment", site.id);
                let failing = checks.iter().filter(|c| !c.met).count();
                let body = html! {
                    h1 { (title) }
                    p { a href=(format!("/sites/{}", site.id)) { (lang.t("settings-back")) } }
                    p { (dated) " "
                        @if failing == 0 { (lang.t("assessment-all-met")) }
                        @else { (lang.t_with("assessment-some-not-met", &[("count", (failing as u64).into())])) }
                    }
                    p {
                        a href=(format!("{here}?lang={}&format=html", lang.code())) download { (lang.t("assessment-download-html")) }
                        " · "
                        a href=(format!("{here}?lang={}&format=md", lang.code())) download { "Markdown" }
                    }
                    div.scroll { (table(lang, &checks)) }
                    (sources(lang))
                };
                let account = Account::of(&viewer);
                Ok(admin_layout((StatusCode::OK, lang), (&title, &here), &account, body))
            }
        }
    })
    .await
}
