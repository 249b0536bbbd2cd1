//! What one SCIM request changed, noted by the handlers while they work
//! and read by the front door when it records the request: the resource
//! before and after, the members a group gained and lost. A task-local
//! note, like the writer ([`crate::store::change::with_actor`]), so that no
//! store call or handler signature carries it.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The changes one request made. A handler retried after a lost race
/// notes again: the resource's images are replaced, member ids are sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audit {
    /// The stored document before the write (`None`: created).
    pub before: Option<Value>,
    /// The stored document after the write (`None`: deleted).
    pub after: Option<Value>,
    /// Whether a resource write was noted at all.
    pub written: bool,
    /// The resource the request read to change (its members, a write that
    /// then failed): whom it was about when nothing of it was written.
    pub subject: Option<Value>,
    pub members_added: BTreeSet<String>,
    pub members_removed: BTreeSet<String>,
}

tokio::task_local! {
    static AUDIT: Arc<Mutex<Audit>>;
}

/// Runs `work` (one request) collecting what its handlers note.
pub async fn with_audit<F: Future>(work: F) -> (F::Output, Audit) {
    let cell = Arc::new(Mutex::new(Audit::default()));
    let output = AUDIT.scope(cell.clone(), work).await;
    let audit = cell.lock().map(|a| a.clone()).unwrap_or_default();
    (output, audit)
}

fn note(change: impl FnOnce(&mut Audit)) {
    // Outside a request (tools, tests of a handler alone) nothing is kept.
    let _ = AUDIT.try_with(|cell| {
        if let Ok(mut audit) = cell.lock() {
            change(&mut audit);
        }
    });
}

/// A resource written: `before` `None` for a creation, `after` `None` for
/// a deletion.
pub fn resource(before: Option<&Value>, after: Option<&Value>) {
    note(|audit| {
        audit.before = before.cloned();
        audit.after = after.cloned();
        audit.written = true;
    });
}

/// The resource a request read to change it.
pub fn subject(document: &Value) {
    note(|audit| audit.subject = Some(document.clone()));
}

/// Members a group gained.
pub fn members_added<'a>(ids: impl IntoIterator<Item = &'a str>) {
    note(|audit| {
        for id in ids {
            audit.members_removed.remove(id);
            audit.members_added.insert(id.to_owned());
        }
    });
}

/// Members a group lost.
pub fn members_removed<'a>(ids: impl IntoIterator<Item = &'a str>) {
    note(|audit| {
        for id in ids {
            audit.members_added.remove(id);
            audit.members_removed.insert(id.to_owned());
        }
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn a_request_collects_its_notes_and_a_retry_replaces_them() {
        let ((), audit) = with_audit(async {
            resource(Some(&json!({"v": 1})), Some(&json!({"v": 2})));
            resource(Some(&json!({"v": 2})), Some(&json!({"v": 3})));
            members_added(["a", "b"]);
            members_added(["a"]);
            members_removed(["b", "c"]);
        })
        .await;
        assert!(audit.written);
        assert_eq!(audit.before, Some(json!({"v": 2})));
        assert_eq!(audit.after, Some(json!({"v": 3})));
        assert_eq!(audit.members_added, BTreeSet::from(["a".to_owned()]));
        assert_eq!(
            audit.members_removed,
            BTreeSet::from(["b".to_owned(), "c".to_owned()])
        );
    }

    #[tokio::test]
    async fn notes_outside_a_request_are_dropped() {
        resource(None, Some(&json!({})));
        let ((), audit) = with_audit(async {}).await;
        assert_eq!(audit, Audit::default());
    }
}
