//! The pages' static files, built into the binary and served by the
//! dashboard itself: named by a hash of their content, so they are cached
//! for a year and a new release never meets a stale copy, and linked with
//! their integrity hash.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256, Sha384};
use std::sync::LazyLock;

#[derive(Debug)]
pub struct Asset {
    /// The name it is served under: `stem.HASH.ext`.
    pub name: String,
    /// `sha384-...`, for the `integrity` attribute.
    pub integrity: String,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
        let short = hex::encode(&Sha256::digest(body)[..6]);
        Asset {
            name: format!("{stem}.{short}.{ext}"),
            integrity: format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(Sha384::digest(body))
            ),
            content_type,
            body,
        }
    }

    /// Its path on the dashboard.
    pub fn path(&self) -> String {
        format!("/assets/{}", self.name)
    }
}

pub static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "mesure",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/mesure.css"),
    )
});

pub static REALTIME: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "realtime",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/realtime.js"),
    )
});

pub static CHART: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "chart",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/chart.js"),
    )
});

/// uPlot, vendored from npm by `scripts/vendor-data.mjs`.
pub static UPLOT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "uplot",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../vendor/uPlot.iife.min.js"),
    )
});

pub static UPLOT_STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "uplot",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../../vendor/uPlot.min.css"),
    )
});

fn all() -> [&'static Asset; 5] {
    [&STYLE, &REALTIME, &CHART, &UPLOT, &UPLOT_STYLE]
}

/// `GET /assets/{name}`: a year in caches, never changed under its name.
pub async fn serve(Path(name): Path<String>) -> Response {
    match all().into_iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}
