//! The `clickhouse` crate, as the product uses it (LZ4 on, RowBinary with
//! validation, server-side parameters), against the local ClickHouse.

use clickhouse::Row;
use clickhouse::error::Error;
use mesure_testkit::LocalClickHouse;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct Hit {
    id: u64,
    site: String,
    ts: i64, // DateTime64(3): milliseconds
    kind: i8,
    salt: [u8; 16],
    props: HashMap<String, String>,
}

fn hit(id: u64) -> Hit {
    Hit {
        id,
        site: format!("site-{}", id % 7),
        ts: 1_790_000_000_000 + i64::try_from(id).expect("small id"),
        kind: i8::try_from(id % 3).expect("small") + 1,
        salt: [u8::try_from(id % 251).expect("small"); 16],
        props: HashMap::from([("k".to_owned(), format!("v{id}"))]),
    }
}

#[tokio::test]
async fn inserts_100k_rows_with_lz4_and_reads_them_back_with_parameters() {
    let db = LocalClickHouse::unique_database("crate");
    let server = LocalClickHouse::shared();
    server
        .client()
        .query(&format!("CREATE DATABASE {db}"))
        .execute()
        .await
        .expect("create database");
    let client = server.client().with_database(&db);
    client
        .query(
            "CREATE TABLE hits (id UInt64, site LowCardinality(String), ts DateTime64(3, 'UTC'), \
             kind Enum8('a' = 1, 'b' = 2, 'c' = 3), salt FixedString(16), \
             props Map(LowCardinality(String), String)) ENGINE = MergeTree ORDER BY (site, id)",
        )
        .execute()
        .await
        .expect("create table");

    let mut insert = client.insert::<Hit>("hits").await.expect("insert");
    for id in 0..100_000 {
        insert.write(&hit(id)).await.expect("write");
    }
    insert.end().await.expect("end");

    let count: u64 = client
        .query("SELECT count() FROM hits")
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(count, 100_000);

    let rows: Vec<Hit> = client
        .query("SELECT ?fields FROM hits WHERE site = {site:String} AND id < {below:UInt64} ORDER BY id")
        .param("site", "site-3")
        .param("below", 100)
        .fetch_all()
        .await
        .expect("fetch");
    let expected: Vec<Hit> = (0..100).filter(|id| id % 7 == 3).map(hit).collect();
    assert_eq!(rows, expected);

    let big: Vec<u64> = client
        .query("SELECT id FROM hits ORDER BY id")
        .fetch_all()
        .await
        .expect("fetch all ids");
    assert!(big.iter().copied().eq(0..100_000));
}

#[tokio::test]
async fn a_clickhouse_error_surfaces_as_a_typed_error() {
    let client = LocalClickHouse::shared().client();
    let error = client
        .query("SELECT x FROM no_such_database_here.no_such_table")
        .fetch_all::<u8>()
        .await
        .expect_err("the query must fail");
    match error {
        Error::BadResponse(message) => {
            assert!(message.starts_with("Code: 81."), "{message}");
            assert!(message.contains("UNKNOWN_DATABASE"), "{message}");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    let error = client
        .query("SELEC 1")
        .execute()
        .await
        .expect_err("syntax error");
    assert!(
        matches!(&error, Error::BadResponse(m) if m.contains("SYNTAX_ERROR")),
        "{error:?}"
    );
}
