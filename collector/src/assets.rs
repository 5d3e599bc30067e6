//! What the collector serves to browsers besides hits: the site script, its
//! Matomo-compatible twin, the opt-out form and page. Scripts are minified
//! by `scripts/assets.mjs` (sources beside them in `assets/`), embedded at
//! build time and compressed once at start.

use bytes::Bytes;
use http::HeaderValue;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::LazyLock;

/// A file served as is, with its gzip form and a validator.
#[derive(Debug)]
pub struct Asset {
    pub body: Bytes,
    pub gzip: Bytes,
    /// The first hex digits of the body's SHA-256: its version.
    pub version: String,
    pub etag: HeaderValue,
    pub content_type: &'static str,
}

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Asset {
        let version: String = Sha256::digest(body.as_bytes())[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let etag = HeaderValue::from_str(&format!("\"{version}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Asset {
            body: Bytes::from_static(body.as_bytes()),
            gzip: Bytes::from(gzip(body.as_bytes())),
            version,
            etag,
            content_type,
        }
    }
}

/// Best compression: done once per asset.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

const JS: &str = "text/javascript; charset=utf-8";

/// Mesure's site script (`/m.js`), also Plausible's (`/js/script.js`).
pub static SITE_SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../assets/m.min.js"), JS));
/// The `_paq` runner served as `/matomo.js` and `/piwik.js`.
pub static MATOMO_SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../assets/matomo.min.js"), JS));
/// The embeddable opt-out form, `/optout.js`.
pub static OPTOUT_SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../assets/optout.min.js"), JS));
/// The opt-out page's style sheet, `/optout.css`.
pub static OPTOUT_STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/optout.css"),
        "text/css; charset=utf-8",
    )
});

/// The languages of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    /// `lang=` wins; else the first of French or English in
    /// `Accept-Language`; else French.
    pub fn choose(query: Option<&str>, accept_language: &str) -> Lang {
        let asked = query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        if let Some(lang) = asked.as_deref().and_then(Lang::from_tag) {
            return lang;
        }
        accept_language
            .split(',')
            .filter_map(|item| Lang::from_tag(item.split(';').next().unwrap_or_default().trim()))
            .next()
            .unwrap_or(Lang::Fr)
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split('-').next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("fr") {
            Some(Lang::Fr)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// The opt-out page: the form, with what it does (the retention as
/// configured, in months), in one language. No inline script or style: it
/// runs under `default-src 'self'`.
pub fn optout_page(lang: Lang, retention_months: u32) -> String {
    let months = match (lang, retention_months) {
        (Lang::Fr, n) => format!("{n} mois"),
        (Lang::En, 1) => "1 month".to_owned(),
        (Lang::En, n) => format!("{n} months"),
    };
    let (title, intro, note, other) = match lang {
        Lang::Fr => (
            "Mesure d'audience : votre choix",
            format!(
                "Ce site mesure sa fréquentation avec Mesure, de façon anonyme : sans cookie, sans \
                 identifiant durable, sans suivi d'un site à l'autre. Les adresses IP sont \
                 tronquées avant tout traitement et les données sont effacées au bout de {months}."
            ),
            "Votre choix est enregistré dans ce navigateur, pour ce site uniquement. Il ne \
             s'applique pas à vos autres navigateurs ou appareils.",
            "<a href=\"?lang=en\" hreflang=\"en\" lang=\"en\">English</a>",
        ),
        Lang::En => (
            "Audience measurement: your choice",
            format!(
                "This site measures its audience with Mesure, anonymously: no cookie, no lasting \
                 identifier, no tracking from one site to another. IP addresses are truncated \
                 before any processing and the data is deleted after {months}."
            ),
            "Your choice is stored in this browser, for this site only. It does not apply to \
             your other browsers or devices.",
            "<a href=\"?lang=fr\" hreflang=\"fr\" lang=\"fr\">Français</a>",
        ),
    };
    let code = lang.code();
    format!(
        "<!doctype html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"optout.css\">\n</head>\n<body>\n\
         <main>\n<h1>{title}</h1>\n<p>{intro}</p>\n<div id=\"mesure-optout\"></div>\n\
         <p class=\"note\">{note}</p>\n<p class=\"lang\">{other}</p>\n</main>\n\
         <script src=\"optout.js\" data-lang=\"{code}\" defer></script>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_from_the_query_then_the_browser() {
        assert_eq!(Lang::choose(Some("lang=en"), "fr-FR"), Lang::En);
        assert_eq!(Lang::choose(Some("lang=de"), "en-GB,fr;q=0.5"), Lang::En);
        assert_eq!(Lang::choose(None, "de-DE, fr;q=0.8, en;q=0.5"), Lang::Fr);
        assert_eq!(Lang::choose(None, ""), Lang::Fr);
    }

    #[test]
    fn the_page_exists_in_both_languages_without_inline_code() {
        for (lang, words, kept) in [
            (Lang::Fr, "sans cookie", "au bout de 13 mois"),
            (Lang::En, "no cookie", "after 13 months"),
        ] {
            let page = optout_page(lang, 13);
            assert!(page.contains(words), "{page}");
            assert!(page.contains(kept), "the retention as configured: {page}");
            assert!(page.contains(&format!("lang=\"{}\"", lang.code())));
            assert!(
                !page.contains("<script>") && !page.contains("style="),
                "{page}"
            );
        }
    }

    #[test]
    fn the_site_script_stays_under_a_kilobyte_gzipped() {
        let size = SITE_SCRIPT.gzip.len();
        assert!(size <= 1024, "the site script is {size} bytes gzipped");
    }
}
