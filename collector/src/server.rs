//! HTTP: the tracking endpoints, health, readiness and metrics.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /p.gif` | always the 1×1 GIF, `Cache-Control: no-store`, whatever happened to the hit |
//! | `HEAD /p.gif` | the GIF's headers; not counted as a view |
//! | `POST /api/event` | `202` when accepted or acknowledged (DNT, GPC, opt-out, robots); a `4xx` JSON error for bad hits; `503` when overloaded |
//! | `OPTIONS /api/event` | CORS preflight, allowed for registered site hosts |
//! | `GET /m.js`, `GET /m-<version>.js` | the site script (a day's cache; a year's, immutable, under its versioned name) |
//! | `GET /js/script.js`, `/js/script.<options>.js`, `/js/plausible.js` | the same script, where Plausible's snippet looks for it |
//! | `GET /matomo.js`, `GET /piwik.js` | the script running Matomo's `_paq` queue |
//! | `GET, POST /matomo.php`, `/piwik.php` | Matomo's tracking API, single and bulk: the GIF, `204` with `send_image=0`, bulk results as JSON; `400` for malformed requests; a bulk request is stored whole or refused whole (`503`) |
//! | `HEAD /matomo.php`, `/piwik.php` | the GIF's headers; not counted as a view |
//! | `GET /optout.js`, `/optout.css` | the embeddable opt-out form |
//! | `GET /optout` | the opt-out page, French or English (`?lang=`, else `Accept-Language`) |
//! | `GET /healthz` | `200` while the process runs |
//! | `GET /readyz` | `200` when ClickHouse answers (within `clickhouse.receive_timeout_ms`), the sites are known, the configured GeoIP files are loaded and today's salt is known; `503` otherwise |
//! | `GET /metrics` | Prometheus text format |
//!
//! No response ever sets a cookie.

use crate::assets::{self, Asset, Lang};
use crate::delivery::{self, Rows, Sink};
use crate::event::{DropReason, Tracker};
use crate::metrics::{Endpoint, Metrics};
use crate::pipeline::visitor::utc_day;
use crate::pipeline::{Pipeline, Request as HitRequest};
use crate::row::EventRow;
use crate::wire::{self, WireError};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The transparent 1×1 GIF.
pub const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// What readiness depends on, updated by background tasks.
#[derive(Debug, Default)]
pub struct Health {
    pub clickhouse: AtomicBool,
    /// No GeoIP file is configured: places stay empty, and that is not an outage.
    pub geoip_optional: bool,
}

#[derive(Debug)]
pub struct Collector {
    pub pipeline: Pipeline,
    pub sink: Arc<dyn Sink>,
    pub metrics: Metrics,
    pub health: Arc<Health>,
    pub limits: Limits,
    /// Months the data is kept, as the opt-out page says.
    pub retention_months: u32,
}

/// What one client may take of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time to send a request's head, then its body.
    pub read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            read_timeout: Duration::from_secs(10),
        }
    }
}

type Reply = Response<Full<Bytes>>;

impl Collector {
    pub async fn handle<B>(&self, request: Request<B>, peer: IpAddr) -> Reply
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        if let Some((file, immutable)) = asset(parts.uri.path()) {
            return match parts.method {
                Method::GET | Method::HEAD => serve_asset(
                    file,
                    immutable,
                    &parts.headers,
                    parts.method == Method::HEAD,
                ),
                _ => method_not_allowed("GET, HEAD"),
            };
        }
        match (parts.uri.path(), &parts.method) {
            ("/p.gif", &Method::GET | &Method::HEAD) => {
                self.pixel(
                    parts.uri.query().unwrap_or_default(),
                    &parts.headers,
                    peer,
                    parts.method == Method::HEAD,
                )
                .await
            }
            ("/api/event", &Method::POST) => self.beacon(&parts.headers, body, peer).await,
            ("/api/event", &Method::OPTIONS) => self.preflight(&parts.headers),
            ("/matomo.php" | "/piwik.php", &Method::HEAD) => head(gif()),
            ("/matomo.php" | "/piwik.php", &Method::GET | &Method::POST) => {
                self.matomo(&parts, body, peer).await
            }
            ("/optout", &Method::GET | &Method::HEAD) => {
                let accept = parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                optout_page(
                    Lang::choose(parts.uri.query(), accept),
                    self.retention_months,
                )
            }
            ("/healthz", &Method::GET) => text(StatusCode::OK, "ok\n"),
            // Browsers ask on every page of the collector's own (the opt-out).
            ("/favicon.ico", &Method::GET | &Method::HEAD) => no_content(),
            ("/readyz", &Method::GET) => self.ready(),
            ("/metrics", &Method::GET) => {
                let mut reply = text(StatusCode::OK, self.metrics.render());
                reply.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                reply
            }
            ("/p.gif", _) => method_not_allowed("GET, HEAD"),
            ("/api/event", _) => method_not_allowed("POST, OPTIONS"),
            ("/matomo.php" | "/piwik.php", _) => method_not_allowed("GET, POST, HEAD"),
            ("/optout", _) => method_not_allowed("GET, HEAD"),
            ("/healthz" | "/readyz" | "/metrics", _) => method_not_allowed("GET"),
            _ => json_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
        }
    }

    /// Runs the pipeline over a hit; a drop is counted here.
    fn enrich(
        &self,
        hit: Result<wire::Hit, WireError>,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<EventRow, DropReason> {
        let row = hit
            .map_err(|error| error.drop_reason())
            .and_then(|hit| self.pipeline.process(&hit, &HitRequest { peer, headers }));
        if let Err(reason) = row {
            self.metrics.dropped(reason);
        }
        row
    }

    /// Runs the pipeline and hands the row to the sink, which counts what
    /// becomes of it. The hit is accepted once the sink has it durably.
    async fn accept(
        &self,
        hit: Result<wire::Hit, WireError>,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<(), DropReason> {
        let row = self.enrich(hit, headers, peer)?;
        self.sink.push(Rows::One(row)).outcome().await
    }

    async fn pixel(&self, query: &str, headers: &HeaderMap, peer: IpAddr, head: bool) -> Reply {
        // A HEAD (link checkers, prefetchers) gets the headers but is not a view.
        if !head {
            self.metrics.received(Endpoint::Pixel);
            let _ = self.accept(wire::parse_pixel(query), headers, peer).await;
        }
        if head { self::head(gif()) } else { gif() }
    }

    async fn beacon<B>(&self, headers: &HeaderMap, body: B, peer: IpAddr) -> Reply
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.metrics.received(Endpoint::Event);
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !matches!(essence, "" | "application/json" | "text/plain") {
            self.metrics.dropped(DropReason::Invalid);
            return json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the event as application/json or text/plain",
            );
        }
        let bytes = match self.read_body(body, wire::MAX_BEACON_BODY).await {
            Ok(bytes) => bytes,
            Err(reply) => return reply,
        };
        let hit = wire::parse_beacon(&bytes, Tracker::Script);
        let error_text = hit.as_ref().err().map(ToString::to_string);
        let mut reply = match self.accept(hit, headers, peer).await {
            Ok(()) => accepted(),
            Err(reason) => match reason {
                DropReason::DoNotTrack
                | DropReason::GlobalPrivacyControl
                | DropReason::OptOut
                | DropReason::Bot
                | DropReason::Prefetch
                | DropReason::Engagement => accepted(),
                DropReason::Invalid => json_error(
                    StatusCode::BAD_REQUEST,
                    reason.as_str(),
                    error_text
                        .as_deref()
                        .unwrap_or("the event is not a valid hit"),
                ),
                DropReason::UnknownSite => json_error(
                    StatusCode::NOT_FOUND,
                    reason.as_str(),
                    "no registered site has this id or domain",
                ),
                DropReason::WrongOrigin => json_error(
                    StatusCode::FORBIDDEN,
                    reason.as_str(),
                    "the page or origin is not one of the site's hostnames",
                ),
                DropReason::EventNotAllowed => json_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    reason.as_str(),
                    "this custom event name is not in the site's allow-list",
                ),
                DropReason::NotRecorded => accepted(),
                DropReason::NoRegistry | DropReason::NoSalt | DropReason::Overloaded => {
                    unavailable(reason)
                }
            },
        };
        self.cors(headers, reply.headers_mut());
        reply
    }

    /// The whole body, within `limit` bytes and the read timeout; else the
    /// error to answer, counted as an invalid hit.
    async fn read_body<B>(&self, body: B, limit: usize) -> Result<Bytes, Reply>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limited = Limited::new(body, limit);
        let error = match tokio::time::timeout(self.limits.read_timeout, limited.collect()).await {
            Ok(Ok(collected)) => return Ok(collected.to_bytes()),
            Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("the body is over {} KiB", limit / 1024),
            ),
            Ok(Err(_)) => json_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                "the body could not be read",
            ),
            Err(_) => json_error(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the body took too long",
            ),
        };
        self.metrics.dropped(DropReason::Invalid);
        Err(error)
    }

    /// Matomo's tracking API: parameters in the query string and the form
    /// body, or a bulk body of requests.
    async fn matomo<B>(&self, parts: &http::request::Parts, body: B, peer: IpAddr) -> Reply
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let headers = &parts.headers;
        let query = parts.uri.query().unwrap_or_default();
        let body = if parts.method == Method::POST {
            match self.read_body(body, wire::matomo::MAX_BULK_BODY).await {
                Ok(bytes) => bytes,
                Err(reply) => {
                    // Counted as one request received, and dropped as invalid.
                    self.metrics.received(Endpoint::Matomo);
                    return reply;
                }
            }
        } else {
            Bytes::new()
        };
        if wire::matomo::is_bulk(&body) {
            return self.matomo_bulk(&body, headers, peer).await;
        }
        // Parameters come in the query string, the form body or both.
        let (parsed, form) = match std::str::from_utf8(&body) {
            Ok("") => (wire::parse_matomo(query), ""),
            Ok(form) => (wire::parse_matomo(&format!("{query}&{form}")), form),
            Err(_) => (Err(WireError::BodyEncoding), ""),
        };
        let image = ![query, form]
            .iter()
            .flat_map(|params| params.split('&'))
            .any(|p| p == "send_image=0");
        let message = parsed.as_ref().err().map(ToString::to_string);
        match self.track_matomo(parsed, headers, peer).await {
            Err(DropReason::Invalid) if message.is_some() => json_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                &message.unwrap_or_default(),
            ),
            Err(DropReason::UnknownSite) => json_error(
                StatusCode::BAD_REQUEST,
                DropReason::UnknownSite.as_str(),
                "no registered site has this Matomo idsite",
            ),
            Err(reason) if reason.is_transient() => unavailable(reason),
            _ if image => gif(),
            _ => no_content(),
        }
    }

    /// One Matomo request, counted and taken through the pipeline; a request
    /// that asks nothing recorded (`rec` not 1, a heartbeat) ends there.
    async fn track_matomo(
        &self,
        request: Result<wire::matomo::Request, WireError>,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<(), DropReason> {
        self.metrics.received(Endpoint::Matomo);
        match request {
            Ok(wire::matomo::Request::Nothing) => {
                self.metrics.dropped(DropReason::NotRecorded);
                Err(DropReason::NotRecorded)
            }
            Ok(wire::matomo::Request::Hit(hit)) => self.accept(Ok(hit), headers, peer).await,
            Err(error) => self.accept(Err(error), headers, peer).await,
        }
    }

    /// `{"requests": [...]}`, stored whole or refused whole, so that a
    /// client's retry after a `503` never stores a request twice. The answer
    /// counts what was tracked and which were invalid, as Matomo does.
    async fn matomo_bulk(&self, body: &[u8], headers: &HeaderMap, peer: IpAddr) -> Reply {
        let requests = match wire::parse_matomo_bulk(body) {
            Ok(requests) => requests,
            Err(error) => {
                self.metrics.received(Endpoint::Matomo);
                self.metrics.dropped(DropReason::Invalid);
                return json_error(StatusCode::BAD_REQUEST, "invalid", &error.to_string());
            }
        };
        let (mut rows, mut invalid, mut tracked) = (Vec::new(), Vec::new(), 0u64);
        let mut refused = None;
        for (i, request) in requests.into_iter().enumerate() {
            self.metrics.received(Endpoint::Matomo);
            let hit = match request {
                Ok(wire::matomo::Request::Nothing) => {
                    self.metrics.dropped(DropReason::NotRecorded);
                    tracked += 1;
                    continue;
                }
                Ok(wire::matomo::Request::Hit(hit)) => Ok(hit),
                Err(error) => Err(error),
            };
            match self.enrich(hit, headers, peer) {
                Ok(row) => {
                    rows.push(row);
                    tracked += 1;
                }
                Err(DropReason::Invalid | DropReason::UnknownSite) => invalid.push(i),
                Err(reason) if reason.is_transient() => refused = Some(reason),
                Err(_) => tracked += 1,
            }
        }
        if let Some(reason) = refused {
            // The whole request is refused: its rows too.
            delivery::count(&self.metrics, rows.len(), Err(reason));
            return unavailable(reason);
        }
        if !rows.is_empty()
            && let Err(reason) = self.sink.push(Rows::Many(rows)).outcome().await
        {
            return unavailable(reason);
        }
        json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "success",
                "tracked": tracked,
                "invalid": invalid.len(),
                "invalid_indices": invalid,
            }),
        )
    }

    /// Allows the origin when it is a registered site's host.
    fn cors(&self, request: &HeaderMap, reply: &mut HeaderMap) {
        reply.insert(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = request.get(header::ORIGIN) else {
            return;
        };
        let host = origin
            .to_str()
            .ok()
            .and_then(crate::pipeline::page::web_host);
        let known = host.is_some_and(|h| {
            self.pipeline
                .registry
                .current()
                .by_domain(&h)
                .is_some_and(|s| s.has_host(&h))
        });
        if known {
            reply.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }

    fn preflight(&self, headers: &HeaderMap) -> Reply {
        let mut reply = Response::new(Full::new(Bytes::new()));
        *reply.status_mut() = StatusCode::NO_CONTENT;
        self.cors(headers, reply.headers_mut());
        if reply
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        {
            set_headers(
                &mut reply,
                &[
                    (header::ACCESS_CONTROL_ALLOW_METHODS, "POST"),
                    (header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"),
                    (header::ACCESS_CONTROL_MAX_AGE, "86400"),
                ],
            );
        }
        reply
    }

    fn ready(&self) -> Reply {
        let today = utc_day(self.pipeline.clock.now_ms());
        let checks = [
            ("clickhouse", self.health.clickhouse.load(Ordering::Relaxed)),
            ("sites", self.pipeline.registry.is_known()),
            (
                "geoip",
                self.health.geoip_optional || self.pipeline.geo.current().is_loaded(),
            ),
            ("salt", self.pipeline.salts.salt(today).is_some()),
        ];
        let ready = checks.iter().all(|(_, ok)| *ok);
        let body = serde_json::json!({
            "ready": ready,
            "checks": checks.iter().map(|(k, ok)| (k.to_string(), serde_json::Value::Bool(*ok))).collect::<serde_json::Map<_, _>>(),
        });
        json(
            if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            &body,
        )
    }
}

/// The files served by path, and whether the path names this very version.
fn asset(path: &str) -> Option<(&'static Asset, bool)> {
    let script = &*assets::SITE_SCRIPT;
    match path {
        "/m.js" => Some((script, false)),
        "/matomo.js" | "/piwik.js" => Some((&*assets::MATOMO_SCRIPT, false)),
        "/optout.js" => Some((&*assets::OPTOUT_SCRIPT, false)),
        "/optout.css" => Some((&*assets::OPTOUT_STYLE, false)),
        _ => {
            if let Some(version) = path.strip_prefix("/m-").and_then(|p| p.strip_suffix(".js")) {
                // An older version asked for gets today's script, briefly cached.
                return Some((script, version == script.version));
            }
            let name = path.strip_prefix("/js/")?.strip_suffix(".js")?;
            let plausible = name == "script"
                || name == "plausible"
                || name.starts_with("script.")
                || name.starts_with("plausible.");
            plausible.then_some((script, false))
        }
    }
}

fn serve_asset(file: &Asset, immutable: bool, request: &HeaderMap, head: bool) -> Reply {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == file.etag.as_bytes());
    let gzip = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.split(';').next().unwrap_or_default().trim() == "gzip")
        });
    let body = match (fresh, head, gzip) {
        (true, _, _) | (_, true, _) => Bytes::new(),
        (_, _, true) => file.gzip.clone(),
        (_, _, false) => file.body.clone(),
    };
    let mut reply = Response::new(Full::new(body));
    if fresh {
        *reply.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=86400, stale-while-revalidate=604800"
    };
    set_headers(
        &mut reply,
        &[
            (header::CONTENT_TYPE, file.content_type),
            (header::CACHE_CONTROL, cache),
            (header::VARY, "Accept-Encoding"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CROSS_ORIGIN_RESOURCE_POLICY, "cross-origin"),
        ],
    );
    let h = reply.headers_mut();
    h.insert(header::ETAG, file.etag.clone());
    if gzip && !fresh {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if head && !fresh {
        let len = if gzip {
            file.gzip.len()
        } else {
            file.body.len()
        };
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    reply
}

/// The opt-out page, allowed to run only its own files.
fn optout_page(lang: Lang, retention_months: u32) -> Reply {
    let page = assets::optout_page(lang, retention_months);
    let mut reply = Response::new(Full::new(Bytes::from(page)));
    set_headers(
        &mut reply,
        &[
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors *",
            ),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::VARY, "Accept-Language"),
        ],
    );
    reply
}

fn set_headers(reply: &mut Reply, headers: &[(header::HeaderName, &'static str)]) {
    let h = reply.headers_mut();
    for (name, value) in headers {
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
}

/// A `HEAD`'s answer: the headers of `reply`, its length, no body.
fn head(mut reply: Reply) -> Reply {
    use http_body::Body;
    let len = reply.body().size_hint().exact().unwrap_or(0);
    *reply.body_mut() = Full::new(Bytes::new());
    reply
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    reply
}

fn gif() -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from_static(GIF)));
    set_headers(
        &mut reply,
        &[
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
            (CROSS_ORIGIN_RESOURCE_POLICY, "cross-origin"),
        ],
    );
    reply
}

const CROSS_ORIGIN_RESOURCE_POLICY: header::HeaderName =
    header::HeaderName::from_static("cross-origin-resource-policy");

fn no_content() -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::NO_CONTENT;
    reply
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

fn unavailable(reason: DropReason) -> Reply {
    let mut reply = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        reason.as_str(),
        "try again shortly",
    );
    reply
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    reply
}

fn accepted() -> Reply {
    json(StatusCode::ACCEPTED, &serde_json::json!({"ok": true}))
}

fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(value.to_string())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

/// A JSON error: `{"error": code, "message": text}`.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> Reply {
    json(
        status,
        &serde_json::json!({"error": code, "message": message}),
    )
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut reply = Response::new(Full::new(body.into()));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

fn method_not_allowed(allow: &'static str) -> Reply {
    let mut reply = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here",
    );
    reply
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    reply
}
