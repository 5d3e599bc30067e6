#!/usr/bin/env bash
# Runs Mesure locally: the local ClickHouse (data kept in .data/clickhouse),
# the schema migrated, the collector, the dashboard, and a demo site that
# sends the collector hits.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

ch_port=${CLICKHOUSE_PORT:-8123}
export MESURE_CLICKHOUSE_URL="http://127.0.0.1:$ch_port"
export MESURE_GEOIP_DATABASES=".data/geoip/GeoLite2-City.mmdb"
export MESURE_COLLECTOR_LISTEN="127.0.0.1:8080"
export MESURE_DASHBOARD_LISTEN="127.0.0.1:8081"
export MESURE_SPOOL_DIR=".data/spool"
export MESURE_ACCOUNTS_URL="sqlite://.data/accounts.sqlite"
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
mesure=target/release/mesure
$mesure migrate
$mesure site put demo --host 127.0.0.1 --host localhost --param page --event Inscription --organisation "Mesure (démonstration)"
# The dashboard's demo user, made once, with a random password kept in .data.
if ! $mesure user list | grep -q '^demo@mesure.local'; then
  .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(18), end="")' > .data/demo-password
  $mesure user add demo@mesure.local --superuser --password-file .data/demo-password
fi
# A few weeks of realistic traffic for the dashboard, the first time only.
$mesure demo-data --site demo --days 28 --events 200000 --if-empty

$mesure collector &
pids+=($!)
$mesure dashboard &
pids+=($!)
.venv/bin/python -m http.server 8000 --bind 127.0.0.1 --directory deploy/local/demo >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<MSG

Mesure is running:
  demo site                  http://127.0.0.1:8000/      (open it: each view is measured)
  collector                  http://127.0.0.1:8080/      (/readyz, /metrics)
  dashboard                  http://127.0.0.1:8081/      (the sites; the demo's overview: /sites/demo)
      sign in as demo@mesure.local, password: $(cat .data/demo-password)
  stats API                  http://127.0.0.1:8081/api/v2/query   (and /readyz, /metrics)
  ClickHouse (local engine)  $MESURE_CLICKHOUSE_URL   database: mesure
Rows: curl -d 'SELECT path, count() FROM mesure.events GROUP BY path' $MESURE_CLICKHOUSE_URL
Stats, signed in with a session cookie:
  curl -c .data/cookies -H 'Origin: http://127.0.0.1:8081' -d email=demo@mesure.local --data-urlencode password@.data/demo-password http://127.0.0.1:8081/sign-in
  curl -b .data/cookies -d '{"site_id": "demo", "date_range": "7d", "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}' http://127.0.0.1:8081/api/v2/query
Press Ctrl-C to stop.
MSG
wait
