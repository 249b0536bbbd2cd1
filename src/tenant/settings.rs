//! A tenant's settings: its identity provider's profile (the switches
//! where identity providers read RFC 7644 differently), its
//! deprovisioning circuit breaker, and how its request log shows values.
//!
//! Stored with the tenant's tokens (one versioned document per tenant), so
//! every function that checks a token reads them through the same short
//! cache; the switches that shape a SCIM request travel on as a
//! [`TenantPolicy`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request_log::LogValues;

/// Most changes of a tenant's settings kept with them.
pub const KEPT_SETTINGS_CHANGES: usize = 20;
/// Bounds of the breaker's settings.
pub const MAX_BREAKER_THRESHOLD: u32 = 1_000_000;
pub const MAX_BREAKER_WINDOW_MINUTES: u32 = 24 * 60;

/// Which identity provider a tenant connects: the defaults of its switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    /// RFC 7644 read literally.
    #[default]
    Rfc,
    Entra,
    Okta,
}

/// What `{"op":"replace","path":"members","value":[...]}` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MembersReplace {
    /// The group's members become the value (RFC 7644 §3.5.2.3).
    #[default]
    Rfc,
    /// The value's members are added; nobody is removed (what some Entra
    /// apps mean by it).
    Additive,
}

/// What a group `PUT` without `members` does to the members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupPutWithoutMembers {
    /// An omitted attribute is cleared: the group has no members after it.
    #[default]
    Clear,
    /// The members stay as they are (Okta apps that PUT groups omit them).
    Keep,
}

/// The deprovisioning circuit breaker of a tenant: it trips when, within
/// the window, more than `threshold` users were deactivated or deleted (or
/// groups deleted) **and** more than `percent` % of the tenant's active
/// users. Both must pass so that neither a small tenant's ordinary
/// leavers (one of eight is 12 %) nor a large tenant's daily churn (30 of
/// 50,000) trips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BreakerSettings {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    #[serde(default = "default_percent")]
    pub percent: u32,
    #[serde(default = "default_window")]
    pub window_minutes: u32,
}

fn yes() -> bool {
    true
}
fn default_threshold() -> u32 {
    20
}
fn default_percent() -> u32 {
    10
}
fn default_window() -> u32 {
    60
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            enabled: true,
            threshold: default_threshold(),
            percent: default_percent(),
            window_minutes: default_window(),
        }
    }
}

impl BreakerSettings {
    /// Whether `count` deprovisionings in the window, in a tenant of
    /// `active` active users, trip the breaker.
    pub fn trips(&self, count: u64, active: u64) -> bool {
        self.enabled
            && count > u64::from(self.threshold)
            && count * 100 > active * u64::from(self.percent)
    }
}

/// A tenant's settings, as an operator sets them: an override left out
/// follows `idp` (or, for the request log, the deployment's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSettings {
    #[serde(default)]
    pub idp: IdpKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_replace: Option<MembersReplace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_put_without_members: Option<GroupPutWithoutMembers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_log_values: Option<LogValues>,
    #[serde(default)]
    pub breaker: BreakerSettings,
}

/// Why a settings change was refused (the message names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSettings(pub String);

impl TenantSettings {
    /// What the profile's switches come to for a SCIM request.
    pub fn policy(&self) -> TenantPolicy {
        let (members_replace, group_put) = match self.idp {
            IdpKind::Rfc => (MembersReplace::Rfc, GroupPutWithoutMembers::Clear),
            IdpKind::Entra => (MembersReplace::Additive, GroupPutWithoutMembers::Keep),
            IdpKind::Okta => (MembersReplace::Rfc, GroupPutWithoutMembers::Keep),
        };
        TenantPolicy {
            members_replace: self.members_replace.unwrap_or(members_replace),
            group_put_without_members: self.group_put_without_members.unwrap_or(group_put),
            log_values: self.request_log_values,
        }
    }

    /// These settings with `patch` merged in (RFC 7396: a member replaces,
    /// `null` removes an override, an object merges), validated.
    pub fn merged(&self, patch: &Value) -> Result<TenantSettings, InvalidSettings> {
        if !patch.is_object() {
            return Err(InvalidSettings("the body must be a JSON object".into()));
        }
        // serde would read a struct from an array too: the document takes
        // the breaker as an object only.
        if patch
            .get("breaker")
            .is_some_and(|b| !b.is_object() && !b.is_null())
        {
            return Err(InvalidSettings("breaker must be an object".into()));
        }
        let mut doc =
            serde_json::to_value(self).map_err(|e| InvalidSettings(format!("settings: {e}")))?;
        merge(&mut doc, &whole_numbers(patch));
        let next: TenantSettings =
            serde_json::from_value(doc).map_err(|e| InvalidSettings(e.to_string()))?;
        next.validate()?;
        Ok(next)
    }

    fn validate(&self) -> Result<(), InvalidSettings> {
        let b = &self.breaker;
        if !(1..=MAX_BREAKER_THRESHOLD).contains(&b.threshold) {
            return Err(InvalidSettings(format!(
                "breaker.threshold must be from 1 to {MAX_BREAKER_THRESHOLD}"
            )));
        }
        if b.percent > 100 {
            return Err(InvalidSettings(
                "breaker.percent must be from 0 to 100".into(),
            ));
        }
        if !(1..=MAX_BREAKER_WINDOW_MINUTES).contains(&b.window_minutes) {
            return Err(InvalidSettings(format!(
                "breaker.windowMinutes must be from 1 to {MAX_BREAKER_WINDOW_MINUTES}"
            )));
        }
        Ok(())
    }

    /// The top-level fields (and `breaker.*` fields) that differ, for the
    /// change history.
    pub fn differences(&self, other: &TenantSettings) -> Vec<String> {
        let (a, b) = (
            serde_json::to_value(self).unwrap_or_default(),
            serde_json::to_value(other).unwrap_or_default(),
        );
        let mut out = Vec::new();
        let keys = |v: &Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let mut names = keys(&a);
        names.extend(keys(&b));
        names.sort();
        names.dedup();
        for name in names {
            match (a.get(&name), b.get(&name)) {
                (Some(Value::Object(x)), Some(Value::Object(y))) => {
                    for (k, v) in x {
                        if y.get(k) != Some(v) {
                            out.push(format!("{name}.{k}"));
                        }
                    }
                }
                (x, y) if x != y => out.push(name),
                _ => {}
            }
        }
        out
    }
}

/// `patch` with every number that is a whole number as an integer: JSON
/// (and JSON Schema's `integer`) does not tell `5` from `5.0`.
fn whole_numbers(patch: &Value) -> Value {
    match patch {
        Value::Number(n) if n.is_f64() => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u32::MAX as f64)
            .map_or_else(|| patch.clone(), |f| Value::from(f as u64)),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), whole_numbers(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else if v.is_object() && t.get(k).is_some_and(Value::is_object) {
                    merge(t.get_mut(k).expect("present"), v);
                } else {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// One change of a tenant's settings: by whom, when, which fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsChange {
    pub version: u64,
    pub at: String,
    pub by: String,
    pub changed: Vec<String>,
}

/// The settings as stored with the tenant: versioned (the management
/// API's ETag) with their most recent changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSettings {
    pub version: u64,
    pub settings: TenantSettings,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<SettingsChange>,
}

impl StoredSettings {
    /// Records `next` as the new settings, made by `by` at `at`; `None`
    /// when nothing differs (no new version).
    pub fn change(&mut self, next: TenantSettings, by: &str, at: &str) -> Option<&SettingsChange> {
        let changed = self.settings.differences(&next);
        if changed.is_empty() {
            return None;
        }
        self.version += 1;
        self.settings = next;
        self.history.insert(
            0,
            SettingsChange {
                version: self.version,
                at: at.to_owned(),
                by: by.to_owned(),
                changed,
            },
        );
        self.history.truncate(KEPT_SETTINGS_CHANGES);
        self.history.first()
    }
}

/// What a tenant's settings decide for one SCIM request: each switch read
/// in exactly one place of the request code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantPolicy {
    pub members_replace: MembersReplace,
    pub group_put_without_members: GroupPutWithoutMembers,
    /// The tenant's choice over the deployment's `SCIM_REQUEST_LOG_VALUES`.
    pub log_values: Option<LogValues>,
}

/// Names of the policy's fields in the Lambda authorizer's context.
pub const CONTEXT_MEMBERS_REPLACE: &str = "membersReplace";
pub const CONTEXT_GROUP_PUT: &str = "groupPutWithoutMembers";
pub const CONTEXT_LOG_VALUES: &str = "requestLogValues";

fn text<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned>(text: Option<&str>) -> Option<T> {
    serde_json::from_value(Value::String(text?.to_owned())).ok()
}

impl TenantPolicy {
    /// The policy as authorizer context fields (string values).
    pub fn context(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            (CONTEXT_MEMBERS_REPLACE, text(self.members_replace)),
            (CONTEXT_GROUP_PUT, text(self.group_put_without_members)),
        ];
        if let Some(v) = self.log_values {
            fields.push((CONTEXT_LOG_VALUES, text(v)));
        }
        fields
    }

    /// The policy from authorizer context fields; a field missing or not
    /// understood keeps its RFC default.
    pub fn from_context<'a>(field: impl Fn(&str) -> Option<&'a str>) -> TenantPolicy {
        TenantPolicy {
            members_replace: parse(field(CONTEXT_MEMBERS_REPLACE)).unwrap_or_default(),
            group_put_without_members: parse(field(CONTEXT_GROUP_PUT)).unwrap_or_default(),
            log_values: parse(field(CONTEXT_LOG_VALUES)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn profiles_set_the_switches_and_overrides_win() {
        let policy = |v: Value| {
            serde_json::from_value::<TenantSettings>(v)
                .unwrap()
                .policy()
        };
        assert_eq!(policy(json!({})), TenantPolicy::default());
        let entra = policy(json!({"idp": "entra"}));
        assert_eq!(entra.members_replace, MembersReplace::Additive);
        assert_eq!(
            entra.group_put_without_members,
            GroupPutWithoutMembers::Keep
        );
        let okta = policy(json!({"idp": "okta"}));
        assert_eq!(okta.members_replace, MembersReplace::Rfc);
        assert_eq!(okta.group_put_without_members, GroupPutWithoutMembers::Keep);
        let overridden = policy(json!({"idp": "entra", "membersReplace": "rfc"}));
        assert_eq!(overridden.members_replace, MembersReplace::Rfc);
        assert_eq!(
            overridden.group_put_without_members,
            GroupPutWithoutMembers::Keep
        );
    }

    #[test]
    fn a_merge_patch_changes_fields_removes_overrides_and_is_validated() {
        let base = TenantSettings::default()
            .merged(&json!({"idp": "okta", "membersReplace": "additive"}))
            .unwrap();
        assert_eq!(base.idp, IdpKind::Okta);
        let next = base
            .merged(&json!({"membersReplace": null, "breaker": {"threshold": 5.0}}))
            .unwrap();
        assert_eq!(next.members_replace, None);
        assert_eq!(next.breaker.threshold, 5);
        assert_eq!(next.breaker.percent, 10, "other breaker fields stay");
        assert_eq!(
            base.differences(&next),
            ["breaker.threshold", "membersReplace"]
        );
        for bad in [
            json!({"idp": "azure"}),
            json!({"breaker": {"threshold": 0}}),
            json!({"breaker": {"percent": 101}}),
            json!({"breaker": {"windowMinutes": 0}}),
            json!({"breaker": {"threshold": 5.5}}),
            json!({"breaker": {"other": 1}}),
            json!({"breaker": []}),
            json!({"breaker": [true, 5]}),
            json!({"unknown": true}),
            json!([1]),
        ] {
            assert!(base.merged(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_breaker_needs_both_the_count_and_the_share() {
        let b = BreakerSettings::default();
        assert!(!b.trips(20, 100), "not more than 20");
        assert!(b.trips(21, 100));
        assert!(!b.trips(30, 1_000), "3 % of a large tenant");
        assert!(b.trips(101, 1_000));
        let off = BreakerSettings {
            enabled: false,
            ..b
        };
        assert!(!off.trips(10_000, 10));
    }

    #[test]
    fn changes_are_versioned_and_bounded() {
        let mut stored = StoredSettings::default();
        let same = stored.settings.clone();
        assert!(stored.change(same, "op", "t0").is_none());
        for i in 0..25 {
            let next = stored
                .settings
                .merged(&json!({"breaker": {"threshold": i + 1}}))
                .unwrap();
            stored.change(next, "arn:aws:iam::1:role/x", "t1").unwrap();
        }
        assert_eq!(stored.version, 25);
        assert_eq!(stored.history.len(), KEPT_SETTINGS_CHANGES);
        assert_eq!(stored.history[0].version, 25);
        assert_eq!(stored.history[0].changed, ["breaker.threshold"]);
    }

    #[test]
    fn the_policy_survives_the_authorizer_context() {
        let policy = TenantPolicy {
            members_replace: MembersReplace::Additive,
            group_put_without_members: GroupPutWithoutMembers::Keep,
            log_values: Some(LogValues::Full),
        };
        let fields = policy.context();
        let back = TenantPolicy::from_context(|name| {
            fields
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        });
        assert_eq!(back, policy);
        assert_eq!(
            TenantPolicy::from_context(|_| None),
            TenantPolicy::default()
        );
    }
}
