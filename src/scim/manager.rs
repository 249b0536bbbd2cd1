//! The enterprise `manager` reference as the seed vendors use it: a report
//! names its manager by id, externalId or email; the service resolves that
//! to a user and keeps the manager's display name and email on the report,
//! so reading a user never costs a second lookup.

use serde_json::{Map, Value};

use super::resource::{finish, with_container};
use super::schema::{ENTERPRISE_URN, MANAGER_EMAIL, Registry, ResourceKind};

/// The manager value a normalised user document asks for.
pub fn requested(doc: &Value) -> Option<&str> {
    doc.get(ENTERPRISE_URN)?
        .get("manager")?
        .get("value")?
        .as_str()
        .filter(|v| !v.is_empty())
}

/// Whether a manager value can only be an email address: those are also
/// matched against `userName` and work emails.
pub fn is_email(value: &str) -> bool {
    value.contains('@')
}

/// The address that identifies `user` as a manager: the primary email, else
/// the work email, else the first one, else a `userName` that is an address.
pub fn contact_email(user: &Value) -> Option<String> {
    let emails = user.get("emails").and_then(Value::as_array);
    let all = || emails.into_iter().flatten();
    let value = |e: &Value| e.get("value").and_then(Value::as_str).map(str::to_owned);
    let typed = |t: &str| {
        all().find(|e| {
            e.get("type")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(t))
        })
    };
    all()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| typed("work"))
        .or_else(|| all().next())
        .and_then(value)
        .or_else(|| {
            user.get("userName")
                .and_then(Value::as_str)
                .filter(|u| is_email(u))
                .map(str::to_owned)
        })
}

/// The name shown for a manager: `displayName`, else `name.formatted`,
/// else `userName`.
pub fn display_name(user: &Value) -> Option<&str> {
    user.get("displayName")
        .or_else(|| user.get("name").and_then(|n| n.get("formatted")))
        .or_else(|| user.get("userName"))
        .and_then(Value::as_str)
}

/// Whether `value`, a report's unresolved manager reference, names `user`
/// (whose id is `id`): by id or externalId exactly, or, for an email, by
/// `userName` or any email address in any case.
pub fn names(value: &str, id: &str, user: &Value) -> bool {
    let exact = |field: &str| user.get(field).and_then(Value::as_str) == Some(value);
    if value == id || exact("externalId") {
        return true;
    }
    if !is_email(value) {
        return false;
    }
    let ci = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case(value));
    ci(user.get("userName").and_then(Value::as_str))
        || user
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|e| ci(e.get("value").and_then(Value::as_str)))
}

/// Writes a report's manager: `value` and, when the manager is known, its
/// `displayName` and (vendor extension) email; without a manager document
/// the read-only copies are removed. `None` as value removes the manager.
pub fn set(doc: &mut Value, value: Option<&str>, manager: Option<&Value>, registry: &Registry) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    let mut out = std::mem::take(obj);
    with_container(&mut out, Some(ENTERPRISE_URN), |ext| match value {
        None => {
            ext.remove("manager");
        }
        Some(v) => {
            let mut reference = Map::new();
            reference.insert("value".to_owned(), Value::String(v.to_owned()));
            if let Some(name) = manager.and_then(display_name) {
                reference.insert("displayName".to_owned(), Value::String(name.to_owned()));
            }
            ext.insert("manager".to_owned(), Value::Object(reference));
        }
    });
    let email = value.and(manager).and_then(contact_email);
    with_container(&mut out, Some(registry.vendor_urn()), |ext| match email {
        Some(e) => ext.insert(MANAGER_EMAIL.to_owned(), Value::String(e)),
        None => ext.remove(MANAGER_EMAIL),
    });
    *obj = finish(out, ResourceKind::User, registry);
}

/// Writes a manager reference with copies kept from before (an unchanged
/// reference needs no read of the manager).
pub fn restore(
    doc: &mut Value,
    value: &str,
    name: Option<String>,
    email: Option<String>,
    registry: &Registry,
) {
    let mut manager = Map::new();
    if let Some(n) = name {
        manager.insert("displayName".to_owned(), Value::String(n));
    }
    if let Some(e) = email {
        let emails = serde_json::json!([{"value": e, "primary": true}]);
        manager.insert("emails".to_owned(), emails);
    }
    let manager = Value::Object(manager);
    set(doc, Some(value), Some(&manager), registry);
}

/// The read-only copies a report keeps of its manager, to compare before
/// and after a manager changes.
pub fn copies(doc: &Value, registry: &Registry) -> (Option<String>, Option<String>) {
    let name = doc
        .get(ENTERPRISE_URN)
        .and_then(|e| e.get("manager"))
        .and_then(|m| m.get("displayName"))
        .and_then(Value::as_str);
    let email = doc
        .get(registry.vendor_urn())
        .and_then(|e| e.get(MANAGER_EMAIL))
        .and_then(Value::as_str);
    (name.map(str::to_owned), email.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> Registry {
        Registry::default()
    }

    #[test]
    fn contact_email_prefers_primary_then_work_then_first_then_user_name() {
        let cases = [
            (
                json!({"emails": [{"value": "h@x", "type": "home"}, {"value": "p@x", "primary": true}]}),
                Some("p@x"),
            ),
            (
                json!({"emails": [{"value": "h@x", "type": "home"}, {"value": "w@x", "type": "Work"}]}),
                Some("w@x"),
            ),
            (
                json!({"emails": [{"value": "o@x", "type": "other"}]}),
                Some("o@x"),
            ),
            (json!({"userName": "u@x"}), Some("u@x")),
            (json!({"userName": "bob"}), None),
        ];
        for (user, want) in cases {
            assert_eq!(contact_email(&user).as_deref(), want, "{user}");
        }
    }

    #[test]
    fn names_matches_id_external_id_exactly_and_emails_in_any_case() {
        let user = json!({"userName": "Boss@X.com", "externalId": "E1",
            "emails": [{"value": "chief@x.com", "type": "work"}]});
        assert!(names("u1", "u1", &user));
        assert!(names("E1", "u1", &user));
        assert!(!names("e1", "u1", &user), "externalId is case-exact");
        assert!(names("boss@x.com", "u1", &user));
        assert!(names("CHIEF@x.com", "u1", &user));
        assert!(!names("other@x.com", "u1", &user));
    }

    #[test]
    fn set_writes_and_clears_the_read_only_copies() {
        let r = registry();
        let manager = json!({"userName": "boss@x.com", "displayName": "The Boss"});
        let mut doc = json!({"userName": "me@x.com"});
        set(&mut doc, Some("m1"), Some(&manager), &r);
        assert_eq!(
            doc[ENTERPRISE_URN]["manager"],
            json!({"value": "m1", "displayName": "The Boss"})
        );
        assert_eq!(doc[r.vendor_urn()][MANAGER_EMAIL], "boss@x.com");
        assert_eq!(
            copies(&doc, &r),
            (Some("The Boss".into()), Some("boss@x.com".into()))
        );
        let schemas = doc["schemas"].as_array().unwrap();
        assert!(schemas.contains(&json!(ENTERPRISE_URN)));
        assert!(schemas.contains(&json!(r.vendor_urn())));

        set(&mut doc, Some("boss@x.com"), None, &r);
        assert_eq!(
            doc[ENTERPRISE_URN]["manager"],
            json!({"value": "boss@x.com"})
        );
        assert!(doc.get(r.vendor_urn()).is_none(), "empty extension dropped");

        set(&mut doc, None, None, &r);
        assert!(doc.get(ENTERPRISE_URN).is_none());
        assert_eq!(doc["schemas"], json!([crate::scim::schema::USER_URN]));
    }

    #[test]
    fn requested_reads_the_normalised_value() {
        assert_eq!(
            requested(&json!({ENTERPRISE_URN: {"manager": {"value": "m"}}})),
            Some("m")
        );
        assert_eq!(
            requested(&json!({ENTERPRISE_URN: {"manager": {"value": ""}}})),
            None
        );
        assert_eq!(requested(&json!({"userName": "x"})), None);
    }
}
