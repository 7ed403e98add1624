# nightpermit — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
# Build output lives outside the checkout so a fresh clone (CI) reuses the compiled dependencies.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/nightpermit-target
# pip-installed tools (pyHanko) live in Python's scripts directory, which may not be on PATH.
PY_SCRIPTS := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
export PATH := $(PY_SCRIPTS):$(PATH)
BIN_DEBUG := $(CARGO_TARGET_DIR)/debug/nightpermit
BIN_RELEASE := $(CARGO_TARGET_DIR)/release/nightpermit
PG_ADMIN ?= postgres://postgres@127.0.0.1:5432/postgres
DATA_DIR ?= data
LISTEN ?= 127.0.0.1:8080

.PHONY: run test deps pg lint fmt build bench-api bench-prereview bench-corpus bench-pages bench-rules bench-seal clean-test-dbs

## Install what is missing, build, create the demo accounts and serve on SQLite.
run: deps
	cargo build --release --bin nightpermit
	$(BIN_RELEASE) demo --data-dir $(DATA_DIR)
	$(BIN_RELEASE) serve --listen $(LISTEN) --data-dir $(DATA_DIR)

## What CI runs: format check, clippy -D warnings, every test on SQLite and Postgres.
test: deps pg
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(MAKE) clean-test-dbs
	cargo test --workspace

deps:
	@bash scripts/install-deps.sh
	@bash scripts/install-models.sh

## Start the local PostgreSQL cluster if it is down (the tests need it).
pg:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; echo "PostgreSQL did not start" >&2; exit 1

## Drop databases left by earlier test runs (each run creates fresh np_test_* databases).
clean-test-dbs:
	@psql "$(PG_ADMIN)" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'np\_test\_%'" \
		| while read -r db; do psql "$(PG_ADMIN)" -qc "DROP DATABASE IF EXISTS \"$$db\"" >/dev/null; done

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

build:
	cargo build --workspace --all-targets

## Load test of the read and write paths on SQLite and Postgres (see docs/benchmarks.md).
bench-api: deps pg
	cargo build --release --bin nightpermit
	bash scripts/bench-api.sh $(BIN_RELEASE)
	cargo test --release -p nightpermit-store --test contract -- --ignored --nocapture bench_decisions 2>&1 | grep BENCH

## Pre-review corpus: accuracy, false passes/flags, per-field accuracy, latency, ratio to the CLI.
bench-prereview: deps
	cargo run --release -p nightpermit-prereview --example bench -- 16 6

## Pre-review on the realistic dev corpus (../shared/corpus): a release server on a fresh data
## dir, scored through the API by the corpus's own score.py (see docs/benchmarks.md).
bench-corpus: deps
	cargo build --release --bin nightpermit
	bash scripts/bench-corpus.sh $(BIN_RELEASE)

## Page render times (wrk on loopback): the real cases bench-corpus left behind (if any), and a
## reviewer's queue of 500 open tasks seeded on a fresh SQLite data dir.
bench-pages: deps
	cargo build --release --bin nightpermit
	cargo build --release -p nightpermit-server --example bench_finish_prereviews
	bash scripts/bench-pages.sh $(BIN_RELEASE) $(CARGO_TARGET_DIR)/release/examples/bench_finish_prereviews

## Rules: evaluations per second of the default rule set on one core.
bench-rules:
	cargo run --release -p nightpermit-rules --example bench

## Seals: render + two signatures, and verification, per permit on one core; pyHanko beside.
bench-seal: deps
	cargo run --release -p nightpermit-seal --example bench
