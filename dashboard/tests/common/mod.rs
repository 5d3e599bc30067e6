//! Generated traffic whose true figures the tests compute here, in Rust,
//! apart from the dashboard's SQL; a dashboard served over a real socket.
#![allow(dead_code)] // each test file uses a part

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use clickhouse::Client;
use mesure_accounts::sessions::Policy;
use mesure_accounts::{AccountsConfig, Engine, Role, Store};
use mesure_collector::event::{Channel, Device, Kind, Tracker};
use mesure_collector::row::EventRow;
use mesure_collector::sites::{self, Mode, SiteRow};
use mesure_dashboard::auth::SECURE_COOKIE;
use mesure_dashboard::config::DashboardConfig;
use mesure_dashboard::service::{Settings, run};
use mesure_schema::{Migrator, Retention, Target};
use mesure_testkit::LocalClickHouse;
pub use mesure_testkit::http::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

pub const DAY_MS: i64 = 86_400_000;

/// The sites: Paris (exempt), Nouméa (consent, UTC+11), Cayenne (UTC−3).
pub const SITES: &[(&str, &str, Mode)] = &[
    ("paris", "Europe/Paris", Mode::Exempt),
    ("noumea", "Pacific/Noumea", Mode::Consent),
    ("cayenne", "America/Cayenne", Mode::Exempt),
];

pub fn tz(site: &str) -> Tz {
    SITES
        .iter()
        .find(|(id, _, _)| *id == site)
        .and_then(|(_, tz, _)| tz.parse().ok())
        .expect("a test site")
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub ts: i64,
    pub kind: Kind,
    pub path: String,
    pub name: String,
}

/// One visit, as generated.
#[derive(Debug, Clone)]
pub struct Visit {
    pub site: &'static str,
    pub visitor: u64,
    pub session: u64,
    pub hits: Vec<Hit>,
    pub referrer: (&'static str, &'static str, Channel),
    pub country: &'static str,
    pub browser: &'static str,
    pub device: Device,
}

impl Visit {
    pub fn start(&self) -> i64 {
        self.hits[0].ts
    }

    pub fn last(&self) -> i64 {
        self.hits.last().map_or(0, |h| h.ts)
    }

    pub fn pageviews(&self) -> u64 {
        self.hits
            .iter()
            .filter(|h| h.kind == Kind::Pageview)
            .count() as u64
    }

    /// A visit of one hit.
    pub fn bounced(&self) -> bool {
        self.hits.len() == 1
    }

    /// The session's start, to the second, as the collector stamps it.
    pub fn start_s(&self) -> i64 {
        self.start().div_euclid(1000)
    }

    pub fn duration_s(&self) -> i64 {
        // The rollup measures from the start's second to the last hit.
        (self.last() - self.start_s() * 1000).div_euclid(1000)
    }

    pub fn entry(&self) -> Option<&str> {
        self.hits
            .iter()
            .find(|h| h.kind == Kind::Pageview)
            .map(|h| h.path.as_str())
    }

    pub fn exit(&self) -> Option<&str> {
        self.hits
            .iter()
            .rev()
            .find(|h| h.kind == Kind::Pageview)
            .map(|h| h.path.as_str())
    }

    pub fn source(&self) -> &str {
        match self.referrer {
            (_, source, _) if !source.is_empty() => source,
            (host, _, _) if !host.is_empty() => host,
            _ => "Direct / None",
        }
    }

    fn rows(&self) -> Vec<EventRow> {
        self.hits
            .iter()
            .enumerate()
            .map(|(i, hit)| EventRow {
                kind: hit.kind,
                name: hit.name.clone(),
                visitor_id: self.visitor,
                session_id: self.session,
                session_start: u32::try_from(self.start_s()).unwrap_or(0),
                hostname: format!("www.{}.fr", self.site),
                referrer_host: self.referrer.0.into(),
                referrer_source: self.referrer.1.into(),
                channel: self.referrer.2,
                country_code: self.country.into(),
                region: "Région".into(),
                city: "Ville".into(),
                browser: self.browser.into(),
                browser_version: "131".into(),
                os: "Windows".into(),
                os_version: "10".into(),
                device: self.device,
                tracker: Tracker::Script,
                // As the collector numbers hits and measures their gaps.
                hit: u16::try_from(i + 1).unwrap_or(u16::MAX),
                gap_s: match i {
                    0 => 0,
                    _ => u32::try_from(
                        hit.ts.div_euclid(1000) - self.hits[i - 1].ts.div_euclid(1000),
                    )
                    .unwrap_or(0),
                },
                ..EventRow::pageview(self.site, hit.ts, &hit.path)
            })
            .collect()
    }
}

/// A small deterministic generator (xorshift).
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

const PAGES: &[&str] = &["/", "/demarches", "/actualites", "/contact", "/carte-grise"];
const REFERRERS: &[(&str, &str, Channel)] = &[
    ("", "", Channel::Direct),
    ("google.fr", "Google", Channel::Search),
    ("qwant.com", "Qwant", Channel::Search),
    ("facebook.com", "Facebook", Channel::Social),
    ("service-public.fr", "", Channel::Other),
];
const COUNTRIES: &[&str] = &["FR", "FR", "FR", "BE", "CA"];
const BROWSERS: &[&str] = &["Chrome", "Firefox", "Safari", "Edge"];

/// The visitor id of a person on the UTC day of `ms`: unrelated across days.
fn visitor(person: u64, ms: i64) -> u64 {
    let day = u64::try_from(ms.div_euclid(DAY_MS)).unwrap_or(0);
    (person.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ day.wrapping_mul(0xbf58_476d_1ce4_e5b9)) | 1
}

/// Traffic over the `days` days before today (real clock), for each site,
/// with visits placed around each site's local midnight.
pub fn generate(days: i64, seed: u64) -> Vec<Visit> {
    let mut random = Random::new(seed);
    let today = mesure_testkit::clock::today_at(0, 0);
    let mut visits = Vec::new();
    let mut session = 1u64;
    for (site, zone, _) in SITES {
        let tz: Tz = zone.parse().expect("zone");
        for back in 1..=days {
            let day = today - back * DAY_MS;
            let count = 8 + random.below(10);
            let mut starts: Vec<i64> = (0..count)
                .map(|_| day + i64::try_from(random.below(86_000)).unwrap_or(0) * 1000)
                .collect();
            // Around the site's local midnight: one just before, one just after.
            let local = DateTime::from_timestamp_millis(day)
                .unwrap_or_default()
                .with_timezone(&tz)
                .date_naive();
            for date in [local, local.succ_opt().unwrap_or(local)] {
                if let Some(midnight) = date
                    .and_hms_opt(0, 0, 0)
                    .and_then(|m| m.and_local_timezone(tz).earliest())
                {
                    let m = midnight.timestamp_millis();
                    if m > day + 10 * 60_000 && m < day + DAY_MS - 10 * 60_000 {
                        starts.push(m - 5 * 60_000);
                        starts.push(m + 2 * 60_000);
                    }
                }
            }
            for start in starts {
                let person = random.below(40);
                let utc_day_end = (start.div_euclid(DAY_MS) + 1) * DAY_MS;
                let mut hits = Vec::new();
                let mut ts = start;
                for i in 0..(1 + random.below(5)) {
                    if ts >= utc_day_end || ts >= today {
                        break;
                    }
                    let (kind, name) = match (i, random.below(6)) {
                        (0, _) | (_, 0..=3) => (Kind::Pageview, String::new()),
                        (_, 4) => (Kind::Custom, "Inscription".to_owned()),
                        _ => (Kind::Outlink, "www.service-public.fr/x".to_owned()),
                    };
                    hits.push(Hit {
                        ts,
                        kind,
                        path: (*random.pick(PAGES)).to_owned(),
                        name,
                    });
                    ts += 1000 * i64::try_from(5 + random.below(400)).unwrap_or(5);
                }
                if hits.is_empty() {
                    continue;
                }
                visits.push(Visit {
                    site,
                    visitor: visitor(person, start),
                    session,
                    hits,
                    referrer: *random.pick(REFERRERS),
                    // A visitor id hashes the address and the user agent:
                    // its place and device do not change.
                    country: COUNTRIES[usize::try_from(person).unwrap_or(0) % COUNTRIES.len()],
                    browser: BROWSERS[usize::try_from(person / 5).unwrap_or(0) % BROWSERS.len()],
                    device: if person.is_multiple_of(3) {
                        Device::Mobile
                    } else {
                        Device::Desktop
                    },
                });
                session += 1;
            }
        }
    }
    visits
}

/// A migrated database with the sites, and the visits inserted.
pub async fn database(prefix: &str, visits: &[Visit]) -> (String, Client) {
    let db = LocalClickHouse::unique_database(prefix);
    Migrator::new(
        LocalClickHouse::shared().client(),
        Target::new(&db, None).expect("target"),
        Retention::DEFAULT,
    )
    .migrate()
    .await
    .expect("migrate");
    let client = LocalClickHouse::shared().client().with_database(&db);
    for (id, zone, mode) in SITES {
        let mut row = SiteRow::new(id, &[&format!("www.{id}.fr")]);
        row.time_zone = (*zone).to_owned();
        row.mode = *mode;
        sites::put(&client, row).await.expect("site");
    }
    let mut insert = client.insert::<EventRow>("events").await.expect("insert");
    for visit in visits {
        for row in visit.rows() {
            insert.write(&row).await.expect("row");
        }
    }
    insert.end().await.expect("inserted");
    (db, client)
}

/// A dashboard over `client`, on a free loopback port, with a signed-in
/// superuser.
pub struct Dashboard {
    pub addr: SocketAddr,
    /// The superuser's session, as the `Cookie` header sends it.
    pub cookie: String,
    /// Its forms' token.
    pub csrf: String,
    pub accounts: Store,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// Both engines the accounts store runs on.
pub const ENGINES: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

/// A SQLite accounts store of its own, migrated.
pub async fn accounts() -> Store {
    accounts_on(Engine::Sqlite).await
}

/// An accounts store of its own on `engine` (a SQLite file, or a database
/// of the test PostgreSQL server), migrated.
pub async fn accounts_on(engine: Engine) -> Store {
    let url = match engine {
        Engine::Sqlite => {
            let dir =
                std::env::temp_dir().join(LocalClickHouse::unique_database("dashboard_accounts"));
            std::fs::create_dir_all(&dir).expect("temporary folder");
            format!("sqlite://{}", dir.join("accounts.sqlite").display())
        }
        Engine::Postgres => {
            mesure_testkit::postgres::LocalPostgres::shared().database("dashboard_accounts")
        }
    };
    let store = Store::open(&url).await.expect("accounts store");
    store.migrate().await.expect("accounts migrated");
    store
}

/// A session for a new user with these roles (no role: a superuser), as
/// the `Cookie` header sends it over TLS, and its forms' token.
pub async fn session(store: &Store, email: &str, roles: &[(&str, Role)]) -> (String, String) {
    // The same user again (a second dashboard on one store): a new session.
    let user = match store.user_by_email(email).await.expect("read") {
        Some(user) => user,
        None => store
            .add_user(email, "", None, roles.is_empty())
            .await
            .expect("user"),
    };
    for (site, role) in roles {
        store.grant_site(&user.id, site, *role).await.expect("role");
    }
    let opened = store
        .open_session(&user, mesure_testkit::clock::real_now_ms())
        .await
        .expect("session");
    (format!("{SECURE_COOKIE}={}", opened.secret), opened.csrf)
}

pub async fn dashboard(client: Client) -> Dashboard {
    dashboard_with(client, accounts().await).await
}

/// A dashboard over `client` with the accounts in `store`.
pub async fn dashboard_with(client: Client, store: Store) -> Dashboard {
    dashboard_configured(client, store, Extras::default()).await
}

/// What some tests set besides the defaults.
#[derive(Default)]
pub struct Extras {
    pub oidc: mesure_dashboard::oidc::OidcConfig,
    pub expiry: Option<Migrator>,
    pub notice: mesure_dashboard::notice::Facts,
}

/// A dashboard over `client` with the accounts in `store` and `extras`.
pub async fn dashboard_configured(
    client: Client,
    store: Store,
    Extras {
        oidc,
        expiry,
        notice,
    }: Extras,
) -> Dashboard {
    // Failed queries are logged: shown with the failing test.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = tokio::sync::oneshot::channel();
    let (cookie, csrf) = session(&store, "root@mesure.test", &[]).await;
    let settings = Settings {
        client,
        timeouts: Default::default(),
        dashboard: DashboardConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            sites_refresh_seconds: 1,
            seal_interval_seconds: 1,
            ..DashboardConfig::default()
        },
        accounts: store.clone(),
        policy: Policy::of(&AccountsConfig::default()),
        oidc,
        expiry,
        notice,
    };
    tokio::spawn(async move {
        run(
            settings,
            async {
                let _ = stopped.await;
            },
            move |a| {
                let _ = bound.send(a);
            },
        )
        .await
        .expect("dashboard runs");
    });
    let addr = addr.await.expect("dashboard started");
    for _ in 0..100 {
        if send(addr, browser_request("GET", "/readyz", &[], b""))
            .await
            .status
            == 200
        {
            return Dashboard {
                addr,
                cookie,
                csrf,
                accounts: store,
                stop,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the dashboard never became ready");
}

impl Dashboard {
    /// `request` sent with the superuser's session.
    pub fn signed(&self, request: Vec<u8>) -> Vec<u8> {
        with_cookie(request, &self.cookie)
    }

    pub async fn query(&self, body: serde_json::Value) -> Answer {
        send(
            self.addr,
            self.signed(browser_request(
                "POST",
                "/api/v2/query",
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )),
        )
        .await
    }

    /// The answer to a query that must succeed.
    pub async fn ok(&self, body: serde_json::Value) -> serde_json::Value {
        let answer = self.query(body.clone()).await;
        assert_eq!(
            answer.status,
            200,
            "{body}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }

    /// The metrics' text exposition.
    pub async fn metrics(&self) -> String {
        let body = send(self.addr, browser_request("GET", "/metrics", &[], b""))
            .await
            .body;
        String::from_utf8(body).expect("text")
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

/// A raw request with a `Cookie` header added after its request line.
pub fn with_cookie(request: Vec<u8>, cookie: &str) -> Vec<u8> {
    let line_end = request
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(request.len(), |i| i + 2);
    let mut out = request[..line_end].to_vec();
    out.extend_from_slice(format!("Cookie: {cookie}\r\n").as_bytes());
    out.extend_from_slice(&request[line_end..]);
    out
}

/// Local dates `first..=last` of a site, as UTC instants `[start, end)`.
pub fn local_range(site: &str, first: NaiveDate, last: NaiveDate) -> (i64, i64) {
    let tz = tz(site);
    let at = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|m| m.and_local_timezone(tz).earliest())
            .map_or(0, |m| m.timestamp_millis())
    };
    (at(first), at(last.succ_opt().unwrap_or(last)))
}

/// The site's local date of an instant.
pub fn local_date(site: &str, ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz(site))
        .date_naive()
}

/// The true figures of a set of visits over `[start, end)`, by the
/// definitions the README gives.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Truth {
    pub visitors: u64,
    pub visits: u64,
    pub pageviews: u64,
    pub events: u64,
    pub bounces: u64,
    pub duration: i64,
    pub visit_pageviews: u64,
}

impl Truth {
    /// Hits in the range that `hit` keeps, and visits started in it that
    /// `visit` keeps.
    pub fn of(
        visits: &[&Visit],
        start: i64,
        end: i64,
        hit: impl Fn(&Visit, &Hit) -> bool,
        visit: impl Fn(&Visit) -> bool,
    ) -> Truth {
        let mut truth = Truth::default();
        let mut daily: BTreeMap<i64, BTreeSet<u64>> = BTreeMap::new();
        for v in visits {
            for h in &v.hits {
                if h.ts >= start && h.ts < end && hit(v, h) {
                    daily
                        .entry(h.ts.div_euclid(DAY_MS))
                        .or_default()
                        .insert(v.visitor);
                    truth.events += 1;
                    truth.pageviews += u64::from(h.kind == Kind::Pageview);
                }
            }
            let started = v.start_s() * 1000;
            if started >= start && started < end && visit(v) {
                truth.visits += 1;
                truth.bounces += u64::from(v.bounced());
                truth.duration += v.duration_s();
                truth.visit_pageviews += v.pageviews();
            }
        }
        truth.visitors = daily.values().map(|ids| ids.len() as u64).sum();
        truth
    }

    /// The metric as the API returns it.
    pub fn metric(&self, name: &str) -> serde_json::Value {
        let ratio = |a: f64, b: u64| (b > 0).then(|| a / b as f64);
        let value = match name {
            "visitors" => Some(self.visitors as f64),
            "visits" => Some(self.visits as f64),
            "pageviews" => Some(self.pageviews as f64),
            "events" => Some(self.events as f64),
            "bounce_rate" => ratio(100.0 * self.bounces as f64, self.visits).map(f64::round),
            "visit_duration" => ratio(self.duration as f64, self.visits).map(f64::round),
            "views_per_visit" => {
                ratio(self.visit_pageviews as f64, self.visits).map(|r| (r * 100.0).round() / 100.0)
            }
            other => panic!("no truth for {other}"),
        };
        match value {
            Some(v) if v.fract() == 0.0 => serde_json::json!(v as i64),
            Some(v) => serde_json::json!(v),
            None => serde_json::Value::Null,
        }
    }
}

/// Visits of one site.
pub fn of_site<'a>(visits: &'a [Visit], site: &str) -> Vec<&'a Visit> {
    visits.iter().filter(|v| v.site == site).collect()
}

/// Groups values by a key, for breakdown truths.
pub fn keys<'a>(
    visits: &[&'a Visit],
    key: impl Fn(&'a Visit, &'a Hit) -> Option<String>,
) -> Vec<String> {
    let mut all = BTreeSet::new();
    for v in visits {
        for h in &v.hits {
            if let Some(k) = key(v, h) {
                all.insert(k);
            }
        }
    }
    all.into_iter().collect()
}

/// Rows of an answer, by their dimensions.
pub fn by_dimensions(answer: &serde_json::Value) -> HashMap<Vec<String>, Vec<serde_json::Value>> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| {
            (
                row["dimensions"]
                    .as_array()
                    .expect("dimensions")
                    .iter()
                    .map(|d| d.as_str().expect("text").to_owned())
                    .collect(),
                row["metrics"].as_array().expect("metrics").clone(),
            )
        })
        .collect()
}

/// Every route that reads one site's data, for `site`.
pub fn site_routes(site: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let query = serde_json::json!({"site_id": site, "date_range": "7d", "metrics": ["visitors"]})
        .to_string();
    vec![
        ("GET", format!("/sites/{site}"), Vec::new()),
        ("GET", format!("/sites/{site}/realtime"), Vec::new()),
        (
            "GET",
            format!("/sites/{site}/details/visit%3Asource"),
            Vec::new(),
        ),
        (
            "GET",
            format!("/sites/{site}/csv?d=visit%3Asource"),
            Vec::new(),
        ),
        (
            "POST",
            "/api/v2/query".to_owned(),
            query.clone().into_bytes(),
        ),
        ("POST", "/api/v2/query/csv".to_owned(), query.into_bytes()),
        (
            "GET",
            format!("/api/v1/export?site_id={site}&date_range=7d"),
            Vec::new(),
        ),
        (
            "GET",
            format!("/api/v1/realtime?site_id={site}"),
            Vec::new(),
        ),
    ]
}

pub async fn ask(
    dashboard: &Dashboard,
    cookie: Option<&str>,
    (method, target, body): &(&str, String, Vec<u8>),
) -> Answer {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    send(
        dashboard.addr,
        browser_request(method, target, &headers, body),
    )
    .await
}

pub fn text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

/// Posts the sign-in form; the answer and the session cookie it sets.
pub async fn sign_in(
    dashboard: &Dashboard,
    email: &str,
    password: &str,
) -> (Answer, Option<String>) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("email", email),
            ("password", password),
            ("next", "/sites/paris?lang=en"),
        ])
        .finish();
    let answer = send(
        dashboard.addr,
        browser_request(
            "POST",
            "/sign-in",
            &[
                ("Origin", "http://collector.test"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        ),
    )
    .await;
    let cookie = answer
        .header("set-cookie")
        .and_then(|c| c.split(';').next().map(str::to_owned))
        .filter(|c| !c.ends_with('='));
    (answer, cookie)
}
