//! Visits as the README explains them. A visitor's id is a hash under the
//! day's salt, and the salt changes at 00:00 UTC: a visit that crosses
//! midnight UTC cannot be followed into the next day without linking the
//! two days' ids, which the daily salt exists to prevent. It is counted as
//! two visits, and the second, entered from one of the site's own pages,
//! is direct.

mod common;

use common::{browser_request, send, serve, test_collector};
use mesure_collector::event::Channel;

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn a_visit_across_midnight_utc_is_two_visits_the_second_direct() {
    let t = test_collector();
    let midnight = mesure_testkit::clock::fixed_ms().div_euclid(DAY_MS) * DAY_MS + DAY_MS;
    t.clock.set(midnight - 10 * 60_000);
    let (addr, _stop) = serve(t.collector.clone()).await;
    let page = |path: &str, referrer: &str| {
        browser_request(
            "GET",
            &format!(
                "/p.gif?s=prefecture&u=https%3A%2F%2Fwww.prefecture.gouv.fr{path}&r={referrer}"
            ),
            &[("X-Forwarded-For", "193.50.60.77")],
            b"",
        )
    };
    send(addr, page("%2Fa", "https%3A%2F%2Fwww.qwant.com%2F")).await;
    t.clock.advance(5 * 60_000);
    send(
        addr,
        page("%2Fb", "https%3A%2F%2Fwww.prefecture.gouv.fr%2Fa"),
    )
    .await;
    // Ten minutes later: 00:05 UTC, the next day.
    t.clock.advance(10 * 60_000);
    send(
        addr,
        page("%2Fc", "https%3A%2F%2Fwww.prefecture.gouv.fr%2Fb"),
    )
    .await;
    let rows = t.sink.take();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].session_id, rows[1].session_id,
        "one visit before midnight"
    );
    assert_eq!(rows[1].channel, Channel::Search);
    assert_ne!(
        rows[2].visitor_id, rows[1].visitor_id,
        "a new day, a new id"
    );
    assert_ne!(rows[2].session_id, rows[1].session_id, "and a new visit");
    assert_eq!(rows[2].channel, Channel::Direct);
    assert_eq!(&*rows[2].referrer_host, "");
}
