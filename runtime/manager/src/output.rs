//! Where an app's stdout and stderr lines go: the seam to the logging pipeline.
//!
//! [`OutputSink`] is what the manager calls for every line; the default,
//! [`TracingSink`], emits each line as a `tracing` event carrying the app and
//! runtime ids, so any subscriber (the console, or the dc-logging pipeline
//! once it is connected) receives them.

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

/// Each line as a `tracing` event (target `dc_manager::app`): stdout at INFO, stderr at WARN.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

impl OutputSink for TracingSink {
    fn line(&self, app_id: &str, runtime_id: &str, stream: Stream, line: &str) {
        match stream {
            Stream::Stdout => tracing::info!(target: "dc_manager::app", app_id, runtime_id, stream = stream.name(), "{line}"),
            Stream::Stderr => tracing::warn!(target: "dc_manager::app", app_id, runtime_id, stream = stream.name(), "{line}"),
        }
    }
}
