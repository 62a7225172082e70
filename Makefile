# Every target wraps commands anyone could type; the logic lives in dcgen and the tests.
#
#   make gen      regenerate generated/ from spec/
#   make test     every test: unit, snapshots, PostgreSQL, SQL Server parsers, freshness
#   make bench    every benchmark

CARGO ?= cargo
DCGEN := $(CARGO) run --quiet -p dcgen --
PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: gen check test test-tsql fuzz-migrations system-deps bench bench-gen bench-migrations bench-verify bench-merge

gen:
	$(DCGEN) gen --spec spec --out generated

# Included after the first target so `make` alone means `make gen`.
include tests/tsql/tsql.mk
include tests/diesel-cli.mk

check:
	$(DCGEN) check --spec spec --out generated

# PostgreSQL 15 (server for the throwaway test clusters, libpq for Diesel) comes from
# Debian; installed only when missing.
system-deps:
	@test -x $(PG_BIN)/initdb && test -f /usr/include/postgresql/libpq-fe.h || \
		(apt-get update && apt-get install -y --no-install-recommends postgresql-15 libpq-dev)

test: system-deps tsql-venv diesel-cli
	python3 runtime/tests/vectors/make_vectors.py --check
	$(CARGO) test --workspace
	$(MAKE) tsql-selftest
	$(MAKE) test-tsql

# Every spec's T-SQL through ScriptDom (TSql150Parser + built-in type walk) and
# sqlfluff's tsql dialect, and the declarative schema through DacFx.
test-tsql: tsql-venv
	TSQL_PYTHON=$(TSQL_PYTHON) bash tests/tsql/check_generated.sh

# The generative migration test of `make test` (codegen/tests/evolution.rs), with more
# sequences from a new seed; DCGEN_EVOLUTION_SEED=<n> repeats a run, and a failure
# prints the command that replays its sequence.
FUZZ_CASES ?= 200
fuzz-migrations: system-deps tsql-venv
	DCGEN_EVOLUTION_CASES=$(FUZZ_CASES) DCGEN_EVOLUTION_SEED=$${DCGEN_EVOLUTION_SEED:-$$(date +%s)} \
		$(CARGO) test -p dcgen --test tests -- evolution --nocapture

bench: bench-gen bench-migrations bench-verify bench-merge

bench-gen:
	$(CARGO) build --release --quiet -p dcgen --bins
	target/release/dcgen-bench

# Diff + render for a 1,000-table spec with 10% of tables changed, and dcgen verify on
# the framework schema, against a throwaway cluster.
bench-migrations: system-deps
	$(CARGO) build --release --quiet -p dcgen -p pg-harness
	target/release/pg-harness run -- target/release/dcgen-migrate-bench

# `dcgen verify` on the framework schema, timed against a throwaway cluster.
bench-verify: system-deps
	$(CARGO) build --release --quiet -p dcgen -p pg-harness
	target/release/pg-harness run -- target/release/dcgen-verify-bench

# Merge against binary COPY and the Python framework's SQL pattern on its own throwaway
# cluster; ROWS sets the size (default 1,000,000).
ROWS ?= 1000000
bench-merge: system-deps
	ROWS=$(ROWS) $(CARGO) bench -p dc-runtime --bench merge

# Logging (runtime/logging): the app-thread cost of an event against tracing-appender, events/s
# into PostgreSQL against plain COPY, loss and peak RSS during an outage. EVENTS sets the size.
.PHONY: bench-logging soak-logging
bench: bench-logging
EVENTS ?= 200000
bench-logging: system-deps
	EVENTS=$(EVENTS) $(CARGO) bench -p dc-logging --bench logging

# The fault run of the logging tests (PostgreSQL stopped for the middle third, Splunk busy for
# another stretch) at the issue's full 200,000 events; `make test` runs 20,000.
soak-logging: system-deps
	DC_LOGGING_FAULT_EVENTS=200000 $(CARGO) test -p dc-logging --test logging -- faults::postgres_stopped --nocapture

# The manager (runtime/manager): one tick over 10,000 apps, command latency, orphan
# rescue, exactly-once under SIGKILLs, on its own throwaway cluster.
.PHONY: bench-manager soak-manager
bench: bench-manager
bench-manager: system-deps
	$(CARGO) bench -p dc-manager --bench manager

# The exactly-once fault test at full size: three managers, 50 apps due every second,
# random SIGKILLs for 5 minutes (make test runs a 24 s slice of it).
soak-manager: system-deps
	DC_MANAGER_SOAK_S=300 DC_MANAGER_SOAK_APPS=50 $(CARGO) test -p dc-manager --test faults three_managers -- --nocapture
