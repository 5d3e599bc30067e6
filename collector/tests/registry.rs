//! The site registry against the local ClickHouse: an unchanged `sites`
//! table is not read again; every change is.

mod common;

use mesure_collector::sites::{self, Registry, SiteRow};
use std::sync::Arc;

#[tokio::test]
async fn the_registry_reloads_only_a_changed_table_and_misses_no_change() {
    let (_db, client) = common::prepared_database("registry").await;
    let registry = Registry::default();
    // A local copy that cannot be saved yet (no directory) is tried again
    // at the next reload, though the table did not change.
    let dir = common::temp_dir("registry").join("not-yet");
    let count = registry.reload(&client, Some(&dir)).await.expect("load");
    assert!(count >= 1 && registry.is_known());
    std::fs::create_dir_all(&dir).expect("dir");
    assert_eq!(
        registry.reload(&client, Some(&dir)).await.expect("reload"),
        count
    );
    let first = Arc::clone(&registry.current());
    let copy = std::fs::metadata(dir.join(sites::SNAPSHOT_FILE))
        .and_then(|m| m.modified())
        .expect("local copy");

    // Unchanged: the same index, the copy not written again.
    assert_eq!(
        registry.reload(&client, Some(&dir)).await.expect("reload"),
        count
    );
    assert!(Arc::ptr_eq(&first, &registry.current()));
    let again = std::fs::metadata(dir.join(sites::SNAPSHOT_FILE))
        .and_then(|m| m.modified())
        .expect("local copy");
    assert_eq!(copy, again);

    // Added, changed, removed: each is seen at the next reload.
    sites::put(&client, SiteRow::new("added", &["added.fr"]))
        .await
        .expect("put");
    assert_eq!(
        registry.reload(&client, None).await.expect("reload"),
        count + 1
    );
    assert!(registry.current().by_id("added").is_some());
    sites::put(&client, SiteRow::new("added", &["other.fr"]))
        .await
        .expect("put");
    registry.reload(&client, None).await.expect("reload");
    let current = registry.current();
    let added = current.by_id("added").expect("site");
    assert!(added.has_host("other.fr") && !added.has_host("added.fr"));
    sites::remove(&client, "added").await.expect("remove");
    assert_eq!(registry.reload(&client, None).await.expect("reload"), count);
    assert!(registry.current().by_id("added").is_none());
}
