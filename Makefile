# Two commands on a fresh machine: `make run` and `make test`.
.PHONY: run test setup clickhouse fmt fuzz bench

run: ## install what is missing and run Mesure locally with a demo site
	@scripts/run.sh

test: ## install what is missing and run every test
	@scripts/test.sh

setup: ## install the local ClickHouse, npm packages and GeoIP data
	@scripts/setup.sh

clickhouse: setup ## run only the local ClickHouse on 127.0.0.1:8123
	@.venv/bin/python deploy/local/chlocal.py --data-dir .data/clickhouse

fmt: ## format the Rust code
	@cargo fmt --all

fuzz: ## fuzz every parser of untrusted input (60 s per target)
	@scripts/fuzz.sh

bench: ## run every benchmark and rewrite benches/README.md (about an hour)
	@scripts/bench.sh
