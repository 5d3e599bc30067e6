#!/usr/bin/env bash
# The whole test suite: formatting, lints, the local ClickHouse's own tests,
# every Rust test against one local ClickHouse and one PostgreSQL server
# started for this run (twice: the second time as if the suite ran 800 days
# later), the deployment files, then the browser tests (their own ClickHouse
# and collector).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

log=$(mktemp -d)
# Every test's temporary files (spools, SQLite files, browser profiles, the
# local servers' data) go under one folder, removed when the run ends.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mesure-test.XXXXXX")
# Traversable by the PostgreSQL server's own user.
chmod 755 "$scratch"
export TMPDIR=$scratch
ch_pid=
pg_pid=
cleanup() {
  [ -n "$ch_pid" ] && kill "$ch_pid" 2>/dev/null && wait "$ch_pid" 2>/dev/null
  [ -n "$pg_pid" ] && kill "$pg_pid" 2>/dev/null && wait "$pg_pid" 2>/dev/null
  rm -rf "$log" "$scratch"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

# Runs a test runner without stopping the script, its output kept in
# $log/NAME for the closing count; a failure is remembered in $failures.
failures=
run() {
  local name=$1
  shift
  set +e
  "$@" 2>&1 | tee "$log/$name"
  [ "${PIPESTATUS[0]}" = 0 ] || failures="$failures $name"
  set -e
}

step "vendored data matches its npm sources"
node scripts/vendor-data.mjs --check

step "minified browser scripts match their sources (and the site script's size)"
node scripts/assets.mjs --check

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "local ClickHouse: protocol tests (pytest)"
run pytest .venv/bin/python -m pytest deploy/local -q -p no:cacheprovider

step "starting a local ClickHouse for the Rust tests"
coproc CH { exec .venv/bin/python deploy/local/chlocal.py --port 0 --temporary --exit-with-parent; }
ch_pid=$CH_PID
read -r -t 60 line <&"${CH[0]}" || { echo "the local ClickHouse did not start" >&2; exit 1; }
echo "$line"
export MESURE_TEST_CLICKHOUSE_URL
MESURE_TEST_CLICKHOUSE_URL=$(grep -o 'http://[0-9.:]*' <<<"$line")

step "starting a PostgreSQL server for the accounts tests"
scripts/local-postgres.sh > "$log/postgres" &
pg_pid=$!
for _ in $(seq 600); do
  grep -q '^postgres://' "$log/postgres" 2>/dev/null && break
  kill -0 "$pg_pid" 2>/dev/null || break
  sleep 0.1
done
export MESURE_TEST_POSTGRES_URL
MESURE_TEST_POSTGRES_URL=$(grep -o '^postgres://[^ ]*' "$log/postgres") ||
  { echo "the local PostgreSQL did not start" >&2; cat "$log/postgres" >&2; exit 1; }
echo "$MESURE_TEST_POSTGRES_URL"

rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
  else
    cargo test --workspace --locked --no-fail-fast
  fi
}

step "Rust tests"
run rust rust_tests

# The guard against tests that depend on the date they run: the same suite
# as if it ran 800 days (more than the longest retention) after its fixed
# instant was written. A fixed date handed to the real engine meets a TTL.
step "Rust tests again, 800 days later (MESURE_TEST_DAYS_LATER=800)"
export MESURE_TEST_DAYS_LATER=800
run rust-later rust_tests
unset MESURE_TEST_DAYS_LATER

cargo build --locked -p mesure

step "deployment files: Dockerfile, compose, nginx, Helm chart, ClickHouse cluster (pytest)"
run deploy .venv/bin/python -m pytest deploy/tests -q -p no:cacheprovider

step "browser tests: Chromium, the site script, Matomo and Plausible clients (screenshots in target/browser)"
run browser node --test --test-reporter=spec collector/tests/browser/ dashboard/tests/browser/

# One closing line for the whole run, from each runner's own summary.
# Sums "N word" over the lines of a log that match a pattern.
count() { { grep -E "$2" "$log/$1" || true; } | { grep -oE "[0-9]+ $3" || true; } |
  awk '{s += $1} END {print s + 0}'; }
if grep -q 'Summary \[' "$log/rust"; then
  rust='Summary \['   # nextest
else
  rust='^test result:'  # cargo test
fi
# node --test ends with "ℹ pass N" and "ℹ fail N".
node_count() { { grep -oE "^ℹ $1 [0-9]+" "$log/browser" || true; } | awk '{s += $3} END {print s + 0}'; }
passed=$(( $(count pytest ' in [0-9.]+s' passed) + $(count deploy ' in [0-9.]+s' passed) + $(count rust "$rust" passed) + $(count rust-later "$rust" passed) + $(node_count pass) ))
failed=$(( $(count pytest ' in [0-9.]+s' failed) + $(count deploy ' in [0-9.]+s' failed) + $(count rust "$rust" failed) + $(count rust-later "$rust" failed) + $(node_count fail) ))
printf '\ntotal: %d passed, %d failed\n' "$passed" "$failed"
[ -z "$failures" ] || { echo "failed:$failures" >&2; exit 1; }
