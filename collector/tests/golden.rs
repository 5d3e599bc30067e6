//! Recorded requests replayed through the whole collector (HTTP handler,
//! wire parsing, every pipeline step) with a fixed clock and daily salt; the
//! outcome of each (its answer, the row or the drop reason) must match
//! `golden/outcomes.jsonl`. `UPDATE_GOLDEN=1` rewrites it, for review.
//!
//! Times are written relative to the replay's first instant and sessions by
//! their order of appearance, so the outcomes are the same whatever date the
//! replay pretends to run on (`MESURE_TEST_DAYS_LATER`).

mod common;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mesure_collector::event::DropReason;
use mesure_collector::row::EventRow;
use serde_json::{Value, json};

/// Names sessions `s1`, `s2`, ... in order of appearance.
#[derive(Default)]
struct Sessions(Vec<u64>);

impl Sessions {
    fn label(&mut self, id: u64) -> String {
        let n = match self.0.iter().position(|s| *s == id) {
            Some(i) => i + 1,
            None => {
                self.0.push(id);
                self.0.len()
            }
        };
        format!("s{n}")
    }
}

fn row_json(row: &EventRow, start_ms: i64, sessions: &mut Sessions) -> Value {
    json!({
        "site_id": row.site_id,
        "ms": row.ts - start_ms,
        "kind": row.kind.as_str(),
        "name": row.name,
        "visitor_id": format!("{:016x}", row.visitor_id),
        "session": sessions.label(row.session_id),
        "session_start_s": i64::from(row.session_start) - start_ms / 1000,
        "hostname": row.hostname,
        "path": row.path,
        "referrer_host": row.referrer_host,
        "referrer_source": row.referrer_source,
        "channel": row.channel.as_str(),
        "utm": [row.utm_source, row.utm_medium, row.utm_campaign, row.utm_content, row.utm_term],
        "place": [row.country_code, row.region, row.city],
        "browser": [row.browser, row.browser_version],
        "os": [row.os, row.os_version],
        "device": row.device.as_str(),
        "props": row.props,
        "tracker": row.tracker.as_str(),
        "hit": row.hit,
        "gap_s": row.gap_s,
    })
}

#[tokio::test]
async fn recorded_requests_give_the_recorded_rows() {
    let t = common::test_collector();
    let start_ms = mesure_testkit::clock::fixed_ms();
    let mut sessions = Sessions::default();
    let requests = include_str!("golden/requests.jsonl");
    let mut outcomes = String::new();
    for line in requests.lines() {
        let record: Value = serde_json::from_str(line).expect("valid record");
        if let Some(minutes) = record["advance_minutes"].as_i64() {
            t.clock.advance(minutes * 60_000);
        }
        let mut builder = http::Request::builder()
            .method(record["method"].as_str().expect("method"))
            .uri(record["target"].as_str().expect("target"));
        for pair in record["headers"].as_array().expect("headers") {
            builder = builder.header(
                pair[0].as_str().expect("name"),
                pair[1].as_str().expect("value"),
            );
        }
        let body = record["body"].as_str().unwrap_or_default().to_owned();
        let request = builder.body(Full::new(Bytes::from(body))).expect("request");
        let peer = record["peer"]
            .as_str()
            .expect("peer")
            .parse()
            .expect("peer ip");

        let dropped_before: Vec<u64> = DropReason::ALL
            .iter()
            .map(|r| t.collector.metrics.dropped_count(*r))
            .collect();
        let response = t.collector.handle(request, peer).await;
        let status = response.status().as_u16();
        assert!(response.headers().get("set-cookie").is_none());
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let rows = t.sink.take();
        let dropped: Vec<&str> = DropReason::ALL
            .iter()
            .zip(dropped_before)
            .filter(|(r, before)| t.collector.metrics.dropped_count(**r) > *before)
            .map(|(r, _)| r.as_str())
            .collect();
        let answer = if content_type == "image/gif" {
            json!("gif")
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        let outcome = json!({
            "name": record["name"],
            "status": status,
            "answer": answer,
            "dropped": dropped,
            "rows": rows
                .iter()
                .map(|row| row_json(row, start_ms, &mut sessions))
                .collect::<Vec<_>>(),
        });
        outcomes.push_str(&serde_json::to_string(&outcome).expect("json"));
        outcomes.push('\n');
    }
    let path = mesure_testkit::repo_root().join("collector/tests/golden/outcomes.jsonl");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &outcomes).expect("write golden");
        return;
    }
    let expected =
        std::fs::read_to_string(&path).expect("golden outcomes (UPDATE_GOLDEN=1 creates them)");
    for (i, (want, got)) in expected.lines().zip(outcomes.lines()).enumerate() {
        assert_eq!(want, got, "outcome of request {} differs", i + 1);
    }
    assert_eq!(expected.lines().count(), outcomes.lines().count());
}
