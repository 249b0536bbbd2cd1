//! Where the front door sends request records: nowhere, a log line (the
//! Lambda functions: a CloudWatch Logs subscription takes the line to the
//! `recorder` function, so recording adds no round trip and no failure to
//! the request), or a channel that a background task drains into the
//! store (`scim-local`).

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::record::RequestRecord;
use crate::store::ops::OpsStore;

/// Most records written in one batch by [`drain`].
const DRAIN_BATCH: usize = 100;

/// How request records leave the request.
#[derive(Debug, Clone, Default)]
pub enum Recorder {
    /// Not recorded (tests of the front door alone, discovery functions).
    #[default]
    Off,
    /// One JSON line on standard output per record.
    Lines,
    /// Sent to a task that writes them (see [`drain`]).
    Channel(UnboundedSender<RequestRecord>),
}

impl Recorder {
    /// Hands a record on; never fails and never waits.
    pub fn record(&self, record: RequestRecord) {
        match self {
            Recorder::Off => {}
            Recorder::Lines => println!("{}", record.to_line()),
            Recorder::Channel(feed) => {
                // A closed channel means the process is stopping.
                let _ = feed.send(record);
            }
        }
    }
}

/// Writes the records sent to `records` into `store` in batches until the
/// channel closes. A batch that cannot be written is logged (cause and
/// size, no content) and dropped: the requests it describes have been
/// answered already.
pub async fn drain<S: OpsStore>(mut records: UnboundedReceiver<RequestRecord>, store: S) {
    let mut batch = Vec::with_capacity(DRAIN_BATCH);
    while records.recv_many(&mut batch, DRAIN_BATCH).await > 0 {
        if let Err(e) = store.record_requests(&batch).await {
            tracing::error!(cause = %e, records = batch.len(), operation = "record_requests", "request records were not written");
        }
        batch.clear();
    }
}
