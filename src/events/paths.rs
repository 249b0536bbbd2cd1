//! Which attribute paths differ between two stored documents: the
//! `changed` field of `*.updated` events.

use serde_json::{Map, Value};

/// Attributes that change with every write or are kept outside the
/// document: never reported as changed.
const IGNORED: [&str; 5] = ["meta", "id", "schemas", "groups", "members"];

/// The SCIM attribute paths (`active`, `name.givenName`,
/// `urn:...:enterprise:2.0:User:manager.value`) whose values differ, sorted.
/// Multi-valued attributes are reported whole (`emails`).
pub fn changed(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    for name in keys(old, new) {
        if IGNORED.contains(&name) {
            continue;
        }
        let (a, b) = (old.get(name), new.get(name));
        if name.starts_with("urn:") {
            extension(name, a, b, &mut out);
        } else {
            attribute(name, a, b, &mut out);
        }
    }
    out.sort();
    out
}

/// The names present in either object, each once.
fn keys<'m>(a: &'m Map<String, Value>, b: &'m Map<String, Value>) -> Vec<&'m str> {
    let mut names: Vec<&str> = a.keys().map(String::as_str).collect();
    names.extend(b.keys().map(String::as_str).filter(|k| !a.contains_key(*k)));
    names
}

/// Present with a value (`null` counts as absent, as in SCIM).
fn value(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// A top-level attribute, or a complex one by its sub-attributes.
fn attribute(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
    let (a, b) = (value(a), value(b));
    if a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for sub in keys(x, y) {
                if value(x.get(sub)) != value(y.get(sub)) {
                    out.push(format!("{path}.{sub}"));
                }
            }
        }
        _ => out.push(path.to_owned()),
    }
}

/// An extension object keyed by its schema URN: its attributes as
/// `urn:...:attribute`.
fn extension(urn: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
    let empty = Map::new();
    let x = value(a).and_then(Value::as_object).unwrap_or(&empty);
    let y = value(b).and_then(Value::as_object).unwrap_or(&empty);
    for name in keys(x, y) {
        attribute(&format!("{urn}:{name}"), x.get(name), y.get(name), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn reports_top_level_sub_attribute_and_extension_paths() {
        let old = json!({"userName": "a", "active": true, "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x"}], ENT: {"department": "X", "manager": {"value": "m1"}},
            "meta": {"lastModified": "1"}});
        let new = json!({"userName": "a", "active": false, "name": {"givenName": "C", "familyName": "B"},
            "emails": [{"value": "b@x"}], ENT: {"department": "X", "manager": {"value": "m2"}, "costCenter": "9"},
            "meta": {"lastModified": "2"}, "title": "T"});
        assert_eq!(
            changed(&old, &new),
            vec![
                "active".to_owned(),
                "emails".into(),
                "name.givenName".into(),
                "title".into(),
                format!("{ENT}:costCenter"),
                format!("{ENT}:manager.value"),
            ]
        );
    }

    #[test]
    fn nothing_when_only_bookkeeping_or_nulls_differ() {
        let old =
            json!({"userName": "a", "meta": {"version": 1}, "schemas": ["x"], "nickName": null});
        let new = json!({"userName": "a", "meta": {"version": 2}, "schemas": ["x", "y"]});
        assert!(changed(&old, &new).is_empty());
    }

    #[test]
    fn removed_attribute_is_changed() {
        let old = json!({"displayName": "g", "externalId": "e"});
        let new = json!({"displayName": "g"});
        assert_eq!(changed(&old, &new), vec!["externalId".to_owned()]);
    }
}
