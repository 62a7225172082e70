//! The manager: runs registered apps on schedules and commands, records every run, exactly once across managers sharing one PostgreSQL.
//!
//! - [`manifest`]: the YAML manifest, checked with file:line:column errors;
//! - [`register`]: groups, parents, apps and schedules written through merge (the one user of `dc_runtime::Merge`);
//! - [`ids`]: app, parent and runtime ids as the data model hashes them;
//! - [`schedule`]: cron and interval schedules in IANA time zones, the DST rule;
//! - [`policy`]: missed-run and overlap policies, a pure decision per app;
//! - [`store`]: every SQL statement of the manager (tokio-postgres), fencing tokens on every owner's write;
//! - [`process`]: app processes in their own process group, stop with SIGTERM then SIGKILL;
//! - [`output`]: the seam that takes apps' stdout and stderr to the logging pipeline;
//! - [`notify`]: fatal-app alerts (webhook; Slack, Teams, Telegram formats);
//! - [`manager`]: the loop that ties them together;
//! - [`app_api`]: what a running app calls to report its progress.

pub mod app_api;
pub mod ids;
pub mod manager;
pub mod manifest;
pub mod notify;
pub mod output;
pub mod policy;
pub mod process;
pub mod register;
pub mod schedule;
pub mod store;
