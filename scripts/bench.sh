#!/usr/bin/env bash
# Every benchmark, then benches/README.md rewritten with the figures, the
# machine and the date. Takes about 8 minutes; loopback only.
#   scripts/bench.sh          the full run
#   scripts/bench.sh --quick  short runs, to check the harness
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p mesure -p mesure-bench
if [ "${1:-}" = "--quick" ]; then
  cargo bench --locked -p mesure-bench --bench pipeline -- --warm-up-time 1 --measurement-time 2 --noplot
  target/release/mesure-load suite --quick
else
  cargo bench --locked -p mesure-bench --bench pipeline -- --noplot
  target/release/mesure-load suite
fi
