//! The per-tenant request log: one [`RequestRecord`] per SCIM request of a
//! tenant, written off the request path (a log line on Lambda that a
//! subscription delivers to the `recorder` function; a channel in
//! `scim-local`), and the activity it adds up to (last request, per-token
//! last use, status counts per time bucket) that the health view reads.

pub mod activity;
pub mod audit;
pub mod change;
pub mod query;
pub mod record;
pub mod sink;
pub mod subscription;

pub use activity::{Activity, ActivityDelta, BUCKET_SECONDS, LastRequest, StatusCounts};
pub use change::{LogValues, RecordChange, Target};
pub use query::{LogPosition, LogQuery, LogWindow};
pub use record::RequestRecord;
pub use sink::Recorder;
