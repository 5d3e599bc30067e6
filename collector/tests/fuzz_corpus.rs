//! Every input of the fuzz corpus (`fuzz/corpus/<target>/`), replayed through
//! the same entry points as the fuzz targets: none may panic. Inputs that
//! once crashed a target are kept there as regressions.

use mesure_collector::fuzz::TARGETS;
use mesure_testkit::repo_root;

#[test]
fn the_fuzz_corpus_replays_without_a_panic() {
    let root = repo_root().join("fuzz/corpus");
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .collect();
        assert!(!entries.is_empty(), "no corpus for {name}");
        for entry in entries {
            let input = std::fs::read(entry.path()).expect("read corpus input");
            let outcome = std::panic::catch_unwind(|| target(&input));
            assert!(
                outcome.is_ok(),
                "{name} panics on {}",
                entry.path().display()
            );
        }
    }
}

#[test]
fn every_fuzz_target_has_its_binary() {
    let manifest =
        std::fs::read_to_string(repo_root().join("fuzz/Cargo.toml")).expect("fuzz manifest");
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} has no fuzz binary"
        );
        let source = repo_root().join(format!("fuzz/fuzz_targets/{name}.rs"));
        let text = std::fs::read_to_string(&source).expect("fuzz target source");
        assert!(
            text.contains(&format!("mesure_collector::fuzz::{name}(")),
            "{name}"
        );
    }
}
