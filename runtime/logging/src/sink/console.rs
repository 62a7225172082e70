//! The console sink: `tracing_subscriber::fmt` formats each event (on the app thread, as fmt does), and a thread of its own writes it to stderr.
//!
//! A blocked stderr (a full pipe) then holds back only this thread. When its
//! queue is full, the app thread writes the line to stderr itself: the
//! console is its own fallback, so no line is dropped.

use std::io::Write;
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError};
use tracing_subscriber::fmt::MakeWriter;

enum Line {
    Text(Vec<u8>),
    Flush(Sender<()>),
}

/// The handle the pipeline keeps to flush the console at shutdown.
pub(crate) struct Console {
    tx: Sender<Line>,
}

impl Console {
    pub fn start(queue_size: usize) -> (Console, ConsoleWriter) {
        let (tx, rx) = crossbeam_channel::bounded::<Line>(queue_size);
        std::thread::Builder::new()
            .name("dc-log-console".into())
            .spawn(move || {
                let stderr = std::io::stderr();
                while let Ok(line) = rx.recv() {
                    match line {
                        Line::Text(text) => {
                            let _ = stderr.lock().write_all(&text);
                        }
                        Line::Flush(ack) => {
                            let _ = stderr.lock().flush();
                            let _ = ack.send(());
                        }
                    }
                }
            })
            .expect("spawn the console thread");
        (Console { tx: tx.clone() }, ConsoleWriter { tx })
    }

    pub fn flush(&self, deadline: Instant) {
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        if self.tx.send_deadline(Line::Flush(ack_tx), deadline).is_ok() {
            let _ = ack_rx.recv_deadline(deadline);
        }
    }
}

/// fmt's writer: one `write` per formatted event, handed to the console thread.
#[derive(Clone)]
pub struct ConsoleWriter {
    tx: Sender<Line>,
}

impl Write for ConsoleWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Err(TrySendError::Full(Line::Text(text)) | TrySendError::Disconnected(Line::Text(text))) = self.tx.try_send(Line::Text(buf.to_vec())) {
            std::io::stderr().lock().write_all(&text)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for ConsoleWriter {
    type Writer = ConsoleWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
