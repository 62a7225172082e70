//! All of dcgen's integration tests in one binary: bad-input fixtures with their
//! expected messages, snapshots of every generated file, freshness of `generated/`,
//! migrations applied to a real PostgreSQL, and each fixture's crate compiled.

mod support;

mod apply_postgres;
mod bad_input;
mod check_expressions;
mod compile_fixtures;
mod evolution;
mod freshness;
mod hash_cmd;
mod history;
mod migrations;
mod print_schema;
mod rollbacks;
mod snapshots;
mod verify;
