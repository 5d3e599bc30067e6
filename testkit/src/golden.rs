//! Golden files: a test's output compared with a file committed beside the
//! test; `UPDATE_GOLDEN=1` rewrites the file instead, for review in the diff.

use std::path::Path;

/// Compares `actual` with the file at `path`, or rewrites it.
pub fn check(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        expected == actual,
        "{} differs (UPDATE_GOLDEN=1 rewrites it after review):\n{}",
        path.display(),
        first_difference(&expected, actual)
    );
}

/// The first line where two texts differ.
fn first_difference(expected: &str, actual: &str) -> String {
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    format!(
        "line {}:\n  expected: {:?}\n  actual:   {:?}",
        line + 1,
        expected.lines().nth(line),
        actual.lines().nth(line)
    )
}
