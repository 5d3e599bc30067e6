#!/usr/bin/env bash
# Every benchmark, then benches/README.md rewritten with the figures, the
# machine and the date: the ingestion suite (about 10 minutes; the
# collector profiled by perf, the sustained run repeated by wrk), then the
# dashboard's overview over 10 and 100 million demo events (about 40 minutes,
# 16 GB of temporary disk), then the overview page's weight (a minute).
# Loopback only.
#   scripts/bench.sh          the full run
#   scripts/bench.sh --quick  short runs, to check the harness
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
cargo build --release --locked -p mesure -p mesure-bench
if [ "${1:-}" = "--quick" ]; then
  cargo bench --locked -p mesure-bench --bench pipeline -- --warm-up-time 1 --measurement-time 2 --noplot
  target/release/mesure-load suite --quick
  target/release/mesure-load dashboard --quick
  target/release/mesure-load weight --quick
else
  cargo bench --locked -p mesure-bench --bench pipeline -- --noplot
  target/release/mesure-load suite
  target/release/mesure-load dashboard
  target/release/mesure-load weight
fi
