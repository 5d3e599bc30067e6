//! Privacy invariants, end to end: after varied hits, no test address (in
//! any textual form), no full user agent, no dropped query parameter and no
//! salt appears in any column of any table or in the collector's logs. The
//! same person on two sites has two visitor ids; ids change with the day;
//! a past salt is gone after rotation.

mod common;

use common::{browser_request, send};
use mesure_collector::pipeline::visitor::visitor_id;
use mesure_collector::pipeline::visitor::{SaltSource, utc_day};
use mesure_collector::salt::SharedSalts;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36 PrivacyTestMarkerA",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.6.1 Mobile/15E148 Safari/604.1 PrivacyTestMarkerB",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 PrivacyTestMarkerC",
];
const IPS: &[&str] = &[
    "193.50.60.91",
    "193.50.60.92",
    "81.250.176.93",
    "2a01:cb00:1234:5678:9abc:def0:1234:5678",
];
const SECRETS: &[&str] = &[
    "SecretNom4711",
    "secret.person@example.org",
    "tok_9f86d081884c7d659a2f",
];

/// Every way an address could have been written down.
fn forms(ip: &str) -> Vec<String> {
    let parsed: IpAddr = ip.parse().expect("ip");
    let mut out = vec![ip.to_owned()];
    match parsed {
        IpAddr::V4(v4) => {
            out.push(u32::from(v4).to_string());
            out.push(format!("{:08x}", u32::from(v4)));
            out.push(format!("::ffff:{v4}"));
            // The /24 network, too: only country, region and city may remain.
            let o = v4.octets();
            out.push(format!("{}.{}.{}.0", o[0], o[1], o[2]));
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            out.push(
                s.iter()
                    .map(|x| format!("{x:04x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
            );
            out.push(u128::from(v6).to_string());
            out.push(Ipv6Addr::from(u128::from(v6) & !((1u128 << 80) - 1)).to_string());
        }
    }
    out
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn nothing_identifying_is_stored_or_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let (db, client) = common::prepared_database("privacy").await;
    let running = common::start(client.clone()).await;
    let addr = running.addr;
    let mut sent = 0;
    for (i, ip) in IPS.iter().enumerate() {
        for (j, ua) in UAS.iter().enumerate() {
            let secret = SECRETS[(i + j) % SECRETS.len()];
            let site = if j == 2 { "ville" } else { "prefecture" };
            let host = if site == "ville" {
                "www.ville.fr"
            } else {
                "www.prefecture.gouv.fr"
            };
            // Secrets only where the rules drop them: a query parameter no site
            // keeps, the referrer's query, and campaigns and properties of the
            // exempt site (the consent site keeps those, by design).
            let exempt_extra = if site == "prefecture" {
                format!("%26utm_source%3D{secret}")
            } else {
                String::new()
            };
            let query = format!(
                "s={site}&u=https%3A%2F%2F{host}%2Fpage%3Fnom%3D{secret}{exempt_extra}&r=https%3A%2F%2Fexample.net%2F%3Fq%3D{secret}"
            );
            let answer = send(
                addr,
                browser_request(
                    "GET",
                    &format!("/p.gif?{query}"),
                    &[("X-Forwarded-For", ip), ("User-Agent", ua)],
                    b"",
                ),
            )
            .await;
            assert_eq!(answer.status, 200);
            assert!(answer.header("set-cookie").is_none());
            sent += 1;
            let props = if site == "prefecture" {
                format!(r#","p":{{"who":"{secret}"}}"#)
            } else {
                String::new()
            };
            let body = format!(
                r#"{{"s":"{site}","n":"Inscription","u":"https://{host}/x?nom={secret}"{props}}}"#
            );
            let answer = send(
                addr,
                browser_request(
                    "POST",
                    "/api/event",
                    &[
                        ("X-Forwarded-For", ip),
                        ("User-Agent", ua),
                        ("Content-Type", "application/json"),
                    ],
                    body.as_bytes(),
                ),
            )
            .await;
            assert!(answer.status < 500);
            assert!(answer.header("set-cookie").is_none());
        }
    }
    let spool = running.spool.clone();
    running.stop().await;

    let stored: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .expect("count");
    assert!(stored >= sent, "{stored} rows for {sent} pixel hits");

    // Every column of every table, as text and as raw bytes.
    let tables: Vec<String> = client
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View' ORDER BY name")
        .fetch_all()
        .await
        .expect("tables");
    let mut dump = Vec::new();
    for table in &tables {
        for format in ["TSVRaw", "RowBinary"] {
            let mut cursor = client
                .query(&format!("SELECT * FROM {table}"))
                .fetch_bytes(format)
                .expect("dump");
            dump.extend_from_slice(&cursor.collect().await.expect("dump bytes"));
        }
    }
    assert!(!dump.is_empty());
    // And the spool on disk: its log, cursor and any quarantine.
    let mut spooled = Vec::new();
    let mut dirs = vec![spool];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("spool dir")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                spooled.extend(std::fs::read(&path).expect("spool file"));
            }
        }
    }
    dump.extend_from_slice(&spooled);
    let salts: Vec<Vec<u8>> = client
        .query("SELECT lower(hex(salt)) FROM salts")
        .fetch_all::<String>()
        .await
        .expect("salts")
        .iter()
        .map(|hex| {
            (0..16)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
                .collect()
        })
        .collect();
    assert!(!salts.is_empty());
    let logs = logs.0.lock().expect("log buffer").clone();
    assert!(
        String::from_utf8_lossy(&logs).contains("collector listening"),
        "logs were captured"
    );
    let without_salts: Vec<u8> = {
        // The salts table itself holds the salts, by design; nothing else may.
        let mut rest = Vec::new();
        for table in tables.iter().filter(|t| *t != "salts") {
            let mut cursor = client
                .query(&format!("SELECT * FROM {table}"))
                .fetch_bytes("TSVRaw")
                .expect("dump");
            rest.extend_from_slice(&cursor.collect().await.expect("dump bytes"));
        }
        rest
    };

    let contains =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    let mut forbidden: Vec<Vec<u8>> = Vec::new();
    for ip in IPS {
        forbidden.extend(forms(ip).into_iter().map(String::into_bytes));
    }
    forbidden.extend(UAS.iter().map(|ua| ua.as_bytes().to_vec()));
    forbidden.extend(UAS.iter().map(|ua| {
        ua.split(' ')
            .next_back()
            .unwrap_or_default()
            .as_bytes()
            .to_vec()
    }));
    forbidden.extend(SECRETS.iter().map(|s| s.as_bytes().to_vec()));
    for needle in &forbidden {
        let text = String::from_utf8_lossy(needle);
        assert!(!contains(&dump, needle), "{text} is stored in {db}");
        assert!(!contains(&logs, needle), "{text} is in the logs");
    }
    for salt in &salts {
        let hex: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        for needle in [&salt[..], hex.as_bytes()] {
            assert!(
                !contains(&without_salts, needle),
                "a salt is stored outside the salts table"
            );
            assert!(!contains(&logs, needle), "a salt is in the logs");
        }
    }

    // The same address and agent on two sites: unrelated visitor ids.
    let per_site: Vec<(String, u64)> = client
        .query(
            "SELECT site_id, uniqExact(visitor_id) FROM events GROUP BY site_id ORDER BY site_id",
        )
        .fetch_all()
        .await
        .expect("visitors");
    let shared: u64 = client
        .query(
            "SELECT count() FROM (SELECT visitor_id FROM events GROUP BY visitor_id \
             HAVING uniqExact(site_id) > 1)",
        )
        .fetch_one()
        .await
        .expect("shared ids");
    assert_eq!(
        shared, 0,
        "a visitor id is shared across sites: {per_site:?}"
    );
}

#[tokio::test]
async fn ids_change_with_the_day_and_past_salts_are_destroyed() {
    let (_db, client) = common::prepared_database("rotation").await;
    let salts = SharedSalts::default();
    // Salts meet the engine's 48-hour TTL: today by the real clock.
    let today_ms = mesure_testkit::clock::today_at(10, 0);
    let tomorrow_ms = today_ms + 86_400_000;
    salts
        .refresh(&client, today_ms)
        .await
        .expect("refresh today");
    let today = salts.salt(utc_day(today_ms)).expect("today's salt");
    let announced = salts
        .salt(utc_day(tomorrow_ms))
        .expect("tomorrow's salt exists a day ahead");
    assert_ne!(today, announced);

    // Another replica adopts the same salts.
    let other = SharedSalts::default();
    other
        .refresh(&client, today_ms)
        .await
        .expect("refresh on another replica");
    assert_eq!(other.salt(utc_day(today_ms)), Some(today));

    salts
        .refresh(&client, tomorrow_ms)
        .await
        .expect("refresh tomorrow");
    assert_eq!(salts.salt(utc_day(tomorrow_ms)), Some(announced));
    assert_eq!(
        salts.salt(utc_day(today_ms)),
        None,
        "yesterday's salt is forgotten"
    );
    let left: u64 = client
        .query("SELECT count() FROM salts WHERE lower(hex(salt)) = ?")
        .bind(today.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .fetch_one()
        .await
        .expect("count");
    let days: Vec<u16> = client
        .query("SELECT toUInt16(day) FROM salts ORDER BY day")
        .fetch_all()
        .await
        .expect("days");
    assert_eq!(
        left, 0,
        "yesterday's salt is destroyed (days left: {days:?})"
    );
    assert!(
        days.iter().all(|d| i64::from(*d) >= utc_day(tomorrow_ms)),
        "{days:?}"
    );

    let ip: IpAddr = "193.50.60.91".parse().expect("ip");
    assert_ne!(
        visitor_id(&today, "prefecture", ip, UAS[0]),
        visitor_id(&announced, "prefecture", ip, UAS[0]),
        "the visitor id changes at the day boundary"
    );
}

/// Before, only today's and tomorrow's salts were held: a ClickHouse outage
/// of more than about a day dropped every hit as `no_salt`. Salts now exist
/// days ahead, on local disk too, and each still goes once its day is over.
#[tokio::test]
async fn salts_made_ahead_carry_hits_through_a_long_outage_and_still_go_after_their_day() {
    let (_db, client) = common::prepared_database("ahead").await;
    let dir = common::temp_dir("salts-ahead");
    let day = 86_400_000;
    let today_ms = mesure_testkit::clock::today_at(10, 0);
    let salts = SharedSalts::new(3, Some(dir.clone()));
    salts.refresh(&client, today_ms).await.expect("refresh");
    assert_eq!(salts.days_ahead(today_ms), 3);
    let today = salts.salt(utc_day(today_ms)).expect("today's salt");
    let in_three_days = salts
        .salt(utc_day(today_ms + 3 * day))
        .expect("a salt three days ahead");
    let file = dir.join(mesure_collector::salt::SALTS_FILE);
    let hex = |salt: &[u8; 16]| salt.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(
        std::fs::read_to_string(&file)
            .expect("local copy")
            .contains(&hex(&today))
    );

    // Two days later, ClickHouse unreachable all along, after a restart:
    // the local copy still holds the day's salt, and nothing older.
    let later_ms = today_ms + 2 * day;
    let restarted = SharedSalts::new(3, Some(dir.clone()));
    restarted.restore(later_ms).await.expect("restore");
    assert_eq!(
        restarted.salt(utc_day(today_ms)),
        None,
        "a past salt is gone"
    );
    assert!(
        restarted.salt(utc_day(later_ms)).is_some(),
        "hits still flow"
    );
    assert_eq!(
        restarted.salt(utc_day(today_ms + 3 * day)),
        Some(in_three_days),
        "the same salt as every other replica"
    );
    let copy = std::fs::read_to_string(&file).expect("local copy");
    assert!(
        !copy.contains(&hex(&today)),
        "a past salt is gone from disk"
    );
    let unreachable = clickhouse::Client::default().with_url("http://127.0.0.1:9");
    assert!(
        restarted
            .refresh(&unreachable, later_ms + day)
            .await
            .is_err()
    );
    assert!(
        restarted.salt(utc_day(later_ms)).is_none(),
        "forgotten at the end of its day even without ClickHouse"
    );
}
