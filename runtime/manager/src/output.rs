//! Where an app's stdout and stderr lines go: the seam to the logging pipeline.
//!
//! [`OutputSink`] is what the manager calls for every line; the default,
//! [`TracingSink`], emits each line as a `tracing` event that names the app
//! and runtime it belongs to in dc-logging's owner fields
//! ([`dc_logging::layer::OWNER_APP_FIELD`]), so the dc-manager binary's
//! dc-logging layer files it in `logs` under the child's ids, and the
//! console prints it.

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Receives an app's output, one line at a time (without its newline).
/// Called from the task that reads the child's pipe: it must not block for long.
pub trait OutputSink: Send + Sync + 'static {
    fn line(&self, app_id: &str, runtime_id: &str, stream: Stream, line: &str);
}

/// The target of the events that carry an app's output.
pub const TARGET: &str = "dc_manager::app";

/// Each line as a `tracing` event (target [`TARGET`]): stdout at INFO, stderr
/// at WARN, with `dc.app_id`, `dc.runtime_id` (dc-logging's owner fields) and `stream`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

impl OutputSink for TracingSink {
    fn line(&self, app_id: &str, runtime_id: &str, stream: Stream, line: &str) {
        // `stream` first: tracing's macros cannot parse a dotted field right after `target:`.
        match stream {
            Stream::Stdout => tracing::info!(target: TARGET, stream = stream.name(), dc.app_id = app_id, dc.runtime_id = runtime_id, "{line}"),
            Stream::Stderr => tracing::warn!(target: TARGET, stream = stream.name(), dc.app_id = app_id, dc.runtime_id = runtime_id, "{line}"),
        }
    }
}
