#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, from Debian's package: a new
# cluster in a temporary folder, listening on 127.0.0.1 and a free port,
# trusting local connections, without fsync. Prints its URL once it accepts
# connections, then stops and removes its folder when the process that
# started it exits (or when it is told to stop).
set -euo pipefail
parent=$PPID
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ ! -x "$bin/postgres" ]; then
  echo "local-postgres: no PostgreSQL server: run scripts/setup.sh (Debian package postgresql)" >&2
  exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/mesure-postgres.XXXXXX")
as=()
# PostgreSQL refuses to run as root: the cluster belongs to its own user.
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as=(runuser -u postgres --)
fi
stop() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 0' TERM INT
"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null
echo "postgres://postgres@127.0.0.1:$port/postgres"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
