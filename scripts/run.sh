#!/usr/bin/env bash
# Runs Mesure locally: the local ClickHouse (data kept in .data/clickhouse),
# the schema migrated, then Mesure's services. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

ch_port=${CLICKHOUSE_PORT:-8123}
export MESURE_CLICKHOUSE_URL="http://127.0.0.1:$ch_port"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait; }
trap cleanup EXIT INT TERM

if curl -fsS "$MESURE_CLICKHOUSE_URL/ping" >/dev/null 2>&1; then
  echo "run: a ClickHouse already answers on $MESURE_CLICKHOUSE_URL; using it"
else
  .venv/bin/python deploy/local/chlocal.py --port "$ch_port" --data-dir .data/clickhouse &
  pids+=($!)
  for _ in $(seq 100); do
    curl -fsS "$MESURE_CLICKHOUSE_URL/ping" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

cargo build --release --locked -p mesure
target/release/mesure migrate

cat <<MSG

Mesure is running:
  ClickHouse (local engine)  $MESURE_CLICKHOUSE_URL   database: mesure
  GeoIP data                 .data/geoip/
Press Ctrl-C to stop.
MSG
wait
