# The diesel CLI, pinned, for `codegen/tests/print_schema.rs` (our schema.rs must equal what
# `diesel print-schema` prints for the migrated database). Included by the top-level Makefile.
#
# Installed into .tools/ (git-ignored) with the workspace's target dir, so the build shares
# the cargo lock and cache with everything else. Keep the version at the diesel release the
# workspace depends on (Cargo.lock). Postgres only: it links the system libpq (libpq-dev).
# Cold it compiles ~110 crates. A release build took 6m17s wall in a fresh clone on 2 cores;
# `--debug` skips optimisation, which this tool (it only prints a schema) does not need,
# to keep `make test` well inside its 20-minute budget. Later runs are no-ops while the
# binary exists.

CARGO ?= cargo
DIESEL_CLI_VERSION := 2.3.14
DIESEL_BIN := .tools/bin/diesel

# Depends on this file so a version bump reinstalls; `touch` because `cargo install` of an
# already-installed version leaves the binary's timestamp alone.
$(DIESEL_BIN): tests/diesel-cli.mk
	$(CARGO) install diesel_cli --version $(DIESEL_CLI_VERSION) --locked --debug \
		--no-default-features --features postgres \
		--root .tools --target-dir target
	touch $@

.PHONY: diesel-cli
diesel-cli: $(DIESEL_BIN)
