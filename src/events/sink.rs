//! The local event sink: every event of every committed change as one JSON
//! line (`detail-type`, `detail`, `source`, `time`), in commit order.

use std::io::Write;

use tokio::sync::mpsc::UnboundedReceiver;

use super::{Change, derive};

/// Writes the events of each change to `out` until the feed closes,
/// flushing after each change so a reader sees it at once. Fails only when
/// `out` can no longer be written.
pub async fn write_lines(
    mut feed: UnboundedReceiver<Change>,
    mut out: impl Write,
) -> std::io::Result<()> {
    while let Some(change) = feed.recv().await {
        if let Some(event) = derive(&change) {
            writeln!(out, "{}", event.json_line())?;
        }
        out.flush()?;
    }
    Ok(())
}
