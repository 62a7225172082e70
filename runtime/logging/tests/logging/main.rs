//! dc-logging against real parts: PostgreSQL clusters from pg-harness, an HEC server on 127.0.0.1, child processes and signals.

mod children;
mod faults;
mod replay;
mod rows;
mod splunk;
mod support;
