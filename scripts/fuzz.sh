#!/usr/bin/env bash
# Fuzzes every parser that sees untrusted bytes: `scripts/fuzz.sh [target]
# [seconds]` (all targets, 60 s each, by default). New inputs that widen
# coverage land in fuzz/corpus/<target>/, which `make test` replays; a crash
# leaves its input in fuzz/artifacts/<target>/: add it to the corpus once fixed.
# The machine has only the stable toolchain; RUSTC_BOOTSTRAP lets cargo-fuzz
# use the sanitizer flags it needs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
seconds=${2:-60}
targets=${1:-$(cargo fuzz list)}
for target in $targets; do
  echo "== fuzzing $target for ${seconds}s"
  cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=16384
done
