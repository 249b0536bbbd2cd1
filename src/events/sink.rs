//! The local event sink: every event of every committed change as one JSON
//! line (`detail-type`, `detail`, `source`, `time`), in commit order,
//! through the tenants' breakers like on AWS.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::batch::Entry;
use super::gate::Gate;
use super::{Bus, Change, derive};
use crate::auth::TokenSource;
use crate::store::Store;
use crate::store::ops::OpsStore;

/// Most changes run through the breakers together.
const BATCH: usize = 100;

/// The sink's output, shared by the feed's writer and breaker releases.
#[derive(Clone)]
pub struct LineBus {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl LineBus {
    pub fn new(out: impl Write + Send + 'static) -> Self {
        LineBus {
            out: Arc::new(Mutex::new(Box::new(out))),
        }
    }

    /// Writes one line per entry and flushes, so a reader sees them at once.
    pub fn write(&self, entries: &[Entry]) -> std::io::Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| std::io::Error::other("the event sink's lock is poisoned"))?;
        for e in entries {
            writeln!(out, "{}", e.json_line())?;
        }
        out.flush()
    }
}

impl Bus for LineBus {
    fn send<'a>(
        &'a self,
        entries: &'a [Entry],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move { self.write(entries).map_err(|e| e.to_string()) })
    }
}

/// Writes the events of each change to `out` until the feed closes, each
/// batch of changes through `gate` (retried while the breaker store fails:
/// nothing is dropped). Fails only when `out` can no longer be written.
pub async fn write_lines<S: Store + OpsStore, T: TokenSource>(
    mut feed: UnboundedReceiver<Change>,
    gate: &Gate<S, T>,
    out: &LineBus,
) -> std::io::Result<()> {
    while let Some(first) = feed.recv().await {
        let mut changes = vec![first];
        while changes.len() < BATCH {
            match feed.try_recv() {
                Ok(change) => changes.push(change),
                Err(_) => break,
            }
        }
        let entries: Vec<_> = changes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.tenant.clone(), Entry::of(&derive(c)?, i))))
            .collect();
        let passed = loop {
            match gate.pass(entries.clone()).await {
                Ok(passed) => break passed,
                Err(e) => {
                    tracing::error!(operation = "breaker", cause = %e, "events wait for the breaker store");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        out.write(&passed.publish)?;
        if let Err(e) = gate.announced(&passed.announcing).await {
            tracing::warn!(operation = "breaker", cause = %e, "a trip's announcement was not marked");
        }
    }
    Ok(())
}
