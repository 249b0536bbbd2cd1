//! A request's change as its record shows it: the target (who it was
//! about), the attributes changed with their old and new values, the
//! members added and removed; with personal data masked unless the
//! deployment keeps full values, and never a password.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::audit::Audit;
use crate::scim::diff::differences;

/// Member ids a record lists per direction; the total is always kept.
pub const MAX_MEMBER_IDS: usize = 20;
/// Characters of a personal value kept when values are masked.
const KEPT_CHARS: usize = 2;

/// How the request log shows personal values (`SCIM_REQUEST_LOG_VALUES`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogValues {
    /// Strings cut after their first two characters (`ad***`).
    #[default]
    Masked,
    /// Values as stored (a vendor whose support must read them).
    Full,
}

impl LogValues {
    /// `masked` or `full`.
    pub fn parse(text: &str) -> Option<LogValues> {
        match text.trim() {
            "masked" => Some(LogValues::Masked),
            "full" => Some(LogValues::Full),
            _ => None,
        }
    }

    fn show(self, value: &Value) -> Value {
        match self {
            LogValues::Full => value.clone(),
            LogValues::Masked => mask(value),
        }
    }
}

/// `text` beyond its first two characters replaced by `***`.
pub fn mask_text(text: &str) -> String {
    if text.chars().count() <= KEPT_CHARS {
        return text.to_owned();
    }
    let kept: String = text.chars().take(KEPT_CHARS).collect();
    format!("{kept}***")
}

/// Every string inside `value` masked; numbers and booleans kept.
fn mask(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(mask_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), mask(v))).collect())
        }
        other => other.clone(),
    }
}

/// A key that finds a userName in the log without keeping it: the first
/// 16 hex digits of the SHA-256 of its lower case (userNames compare
/// case-insensitively).
pub fn user_name_key(user_name: &str) -> String {
    let digest = Sha256::digest(user_name.to_lowercase().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whom a request was about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// [`user_name_key`] of the userName, for filtering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Target {
    /// The target named in a resource document (stored, or the request's
    /// body for a request refused before anything was stored).
    pub fn of(document: &Value, values: LogValues) -> Option<Target> {
        let text = |name: &str| document.get(name).and_then(Value::as_str);
        let target = Target {
            user_name: text("userName")
                .map(|u| values.show(&Value::from(u)))
                .and_then(|v| v.as_str().map(super::record::bounded)),
            user_name_key: text("userName").map(user_name_key),
            display_name: text("displayName")
                .map(|d| values.show(&Value::from(d)))
                .and_then(|v| v.as_str().map(super::record::bounded)),
            external_id: text("externalId").map(super::record::bounded),
        };
        (target != Target::default()).then_some(target)
    }
}

/// One attribute's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// Members added or removed: some ids and how many in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDelta {
    pub ids: Vec<String>,
    pub total: usize,
}

impl MemberDelta {
    fn of<'a>(ids: impl ExactSizeIterator<Item = &'a String>) -> Option<MemberDelta> {
        let total = ids.len();
        (total > 0).then(|| MemberDelta {
            ids: ids.take(MAX_MEMBER_IDS).cloned().collect(),
            total,
        })
    }
}

/// What a write changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordChange {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
    /// Attributes changed in all (more than listed once summarised).
    #[serde(default)]
    pub attributes_total: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_added: Option<MemberDelta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_removed: Option<MemberDelta>,
    /// Values or ids were left out to keep the record small.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub summarised: bool,
}

/// Never in a record, whatever the mode: `password` is write-only.
fn secret(path: &str) -> bool {
    let name = path.rsplit(':').next().unwrap_or(path);
    name.split('.')
        .next()
        .is_some_and(|n| n.eq_ignore_ascii_case("password"))
}

impl RecordChange {
    /// The change `audit` noted; `None` when nothing was written. A
    /// deletion lists no attributes (the target names what went).
    pub fn of(audit: &Audit, values: LogValues) -> Option<RecordChange> {
        let empty = Value::Object(Map::new());
        let attributes: Vec<AttributeChange> = match (&audit.before, &audit.after) {
            (_, None) => Vec::new(),
            (before, Some(after)) => differences(before.as_ref().unwrap_or(&empty), after)
                .into_iter()
                .filter(|d| !secret(&d.path))
                .map(|d| AttributeChange {
                    path: d.path,
                    old: d.old.map(|v| values.show(&v)),
                    new: d.new.map(|v| values.show(&v)),
                })
                .collect(),
        };
        let change = RecordChange {
            attributes_total: attributes.len(),
            attributes,
            members_added: MemberDelta::of(audit.members_added.iter()),
            members_removed: MemberDelta::of(audit.members_removed.iter()),
            summarised: false,
        };
        (audit.written || change.members_added.is_some() || change.members_removed.is_some())
            .then_some(change)
    }

    /// The old and new value of `path`, if it changed.
    pub fn attribute(&self, path: &str) -> Option<&AttributeChange> {
        self.attributes.iter().find(|a| a.path == path)
    }

    /// One step smaller, for a record over its size limit; `false` when
    /// nothing is left to leave out.
    pub fn shrink(&mut self) -> bool {
        let long = |v: &Value| v.to_string().len() > 64;
        let has_long = self
            .attributes
            .iter()
            .any(|a| a.old.as_ref().is_some_and(long) || a.new.as_ref().is_some_and(long));
        self.summarised = true;
        if has_long {
            for a in &mut self.attributes {
                for v in [&mut a.old, &mut a.new] {
                    if v.as_ref().is_some_and(long) {
                        *v = Some(Value::String("…".into()));
                    }
                }
            }
        } else if self
            .attributes
            .iter()
            .any(|a| a.old.is_some() || a.new.is_some())
        {
            for a in &mut self.attributes {
                a.old = None;
                a.new = None;
            }
        } else if self.attributes.len() > 10 {
            self.attributes.truncate(10);
        } else if self.members_ids() > 0 {
            for delta in [&mut self.members_added, &mut self.members_removed]
                .into_iter()
                .flatten()
            {
                delta.ids.clear();
            }
        } else if !self.attributes.is_empty() {
            self.attributes.clear();
        } else {
            return false;
        }
        true
    }

    fn members_ids(&self) -> usize {
        [&self.members_added, &self.members_removed]
            .into_iter()
            .flatten()
            .map(|d| d.ids.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn audit(before: Option<Value>, after: Option<Value>) -> Audit {
        Audit {
            before,
            after,
            written: true,
            ..Audit::default()
        }
    }

    #[test]
    fn an_update_lists_old_and_new_values_masked_or_full() {
        let before = json!({"userName": "ada@example.com", "active": true,
            ENT: {"department": "Research"}, "name": {"familyName": "Lovelace"}});
        let after = json!({"userName": "ada@example.com", "active": false,
            ENT: {"department": "Engines"}, "name": {"familyName": "King"}});
        let full = RecordChange::of(
            &audit(Some(before.clone()), Some(after.clone())),
            LogValues::Full,
        )
        .unwrap();
        assert_eq!(full.attributes_total, 3);
        assert_eq!(
            full.attribute("active"),
            Some(&AttributeChange {
                path: "active".into(),
                old: Some(json!(true)),
                new: Some(json!(false))
            })
        );
        assert_eq!(
            full.attribute(&format!("{ENT}:department")).unwrap().new,
            Some(json!("Engines"))
        );
        let masked =
            RecordChange::of(&audit(Some(before), Some(after)), LogValues::Masked).unwrap();
        assert_eq!(
            masked.attribute("name.familyName").unwrap().old,
            Some(json!("Lo***"))
        );
        assert_eq!(masked.attribute("active").unwrap().new, Some(json!(false)));
    }

    #[test]
    fn a_password_never_appears() {
        let after = json!({"userName": "ada", "password": "hunter2hunter2"});
        let change = RecordChange::of(&audit(None, Some(after)), LogValues::Full).unwrap();
        assert_eq!(change.attributes.len(), 1, "{change:?}");
        assert!(!serde_json::to_string(&change).unwrap().contains("hunter2"));
    }

    #[test]
    fn members_are_bounded_with_their_total() {
        let ids: BTreeSet<String> = (0..50).map(|i| format!("m{i:02}")).collect();
        let a = Audit {
            members_added: ids,
            ..Audit::default()
        };
        let change = RecordChange::of(&a, LogValues::Masked).unwrap();
        let added = change.members_added.unwrap();
        assert_eq!((added.ids.len(), added.total), (MAX_MEMBER_IDS, 50));
        assert!(change.attributes.is_empty() && change.members_removed.is_none());
        assert_eq!(RecordChange::of(&Audit::default(), LogValues::Masked), None);
    }

    #[test]
    fn a_deletion_lists_no_attributes() {
        let change = RecordChange::of(
            &audit(Some(json!({"userName": "ada"})), None),
            LogValues::Full,
        )
        .unwrap();
        assert!(change.attributes.is_empty());
    }

    #[test]
    fn targets_mask_names_but_find_them_by_key() {
        let doc = json!({"userName": "Ada@Example.com", "externalId": "e-1"});
        let t = Target::of(&doc, LogValues::Masked).unwrap();
        assert_eq!(t.user_name.as_deref(), Some("Ad***"));
        assert_eq!(t.user_name_key, Some(user_name_key("ada@example.com")));
        assert_eq!(t.external_id.as_deref(), Some("e-1"));
        assert_eq!(
            Target::of(&json!({"displayName": "Tour Guides"}), LogValues::Full)
                .unwrap()
                .display_name
                .as_deref(),
            Some("Tour Guides")
        );
        assert_eq!(Target::of(&json!({}), LogValues::Full), None);
    }

    #[test]
    fn shrinking_drops_long_values_then_values_then_attributes_then_ids() {
        let long = "x".repeat(200);
        let mut change = RecordChange {
            attributes: (0..12)
                .map(|i| AttributeChange {
                    path: format!("a{i}"),
                    old: Some(json!(long)),
                    new: Some(json!(i)),
                })
                .collect(),
            attributes_total: 12,
            members_added: Some(MemberDelta {
                ids: vec!["m".into()],
                total: 1,
            }),
            ..RecordChange::default()
        };
        assert!(change.shrink());
        assert_eq!(change.attributes[0].old, Some(json!("…")));
        assert!(change.shrink());
        assert!(
            change
                .attributes
                .iter()
                .all(|a| a.old.is_none() && a.new.is_none())
        );
        assert!(change.shrink());
        assert_eq!((change.attributes.len(), change.attributes_total), (10, 12));
        assert!(change.shrink());
        assert!(change.members_added.as_ref().unwrap().ids.is_empty());
        assert!(change.shrink());
        assert!(!change.shrink());
        assert!(change.summarised);
    }
}
