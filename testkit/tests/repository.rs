//! The repository stands alone and says true things about itself: no file
//! points outside it, and every target the Makefile declares exists.

use mesure_testkit::repo_root;
use std::process::Command;

fn tracked_files() -> Vec<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo_root())
        .args(["ls-files", "-z"])
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files failed");
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_file_points_outside_the_repository() {
    // Spelled in pieces, so that this file holds no such pointer either.
    let outside = [concat!("..", "/", "shared"), concat!("DESIGN", ".md")];
    let mut found = Vec::new();
    for file in tracked_files() {
        if file.contains("/corpus/") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(repo_root().join(&file)) else {
            continue; // not text
        };
        for needle in outside {
            if text.contains(needle) {
                found.push(format!("{file}: {needle}"));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn every_declared_make_target_exists() {
    let makefile = std::fs::read_to_string(repo_root().join("Makefile")).expect("Makefile");
    let declared = makefile
        .lines()
        .find_map(|l| l.strip_prefix(".PHONY:"))
        .expect(".PHONY line");
    for target in declared.split_whitespace() {
        assert!(
            makefile
                .lines()
                .any(|l| l.starts_with(&format!("{target}:"))),
            "make {target} is declared but has no rule"
        );
    }
}
