//! Which attributes differ between two stored documents, with their old
//! and new values: the `changed` field of `*.updated` events and the
//! change a request-log record shows.

use serde_json::{Map, Value};

/// Attributes that change with every write or are kept outside the
/// document: never reported as changed.
const IGNORED: [&str; 5] = ["meta", "id", "schemas", "groups", "members"];

/// One attribute that differs: absent (`None`) on one side when it was
/// added or removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// The SCIM attribute paths (`active`, `name.givenName`,
/// `urn:...:enterprise:2.0:User:manager.value`) whose values differ, sorted.
/// Multi-valued attributes are reported whole (`emails`).
pub fn changed(old: &Value, new: &Value) -> Vec<String> {
    differences(old, new).into_iter().map(|d| d.path).collect()
}

/// The attributes whose values differ, by path as [`changed`] names them,
/// with both values.
pub fn differences(old: &Value, new: &Value) -> Vec<Difference> {
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
    out.sort_by(|a, b| a.path.cmp(&b.path));
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
fn attribute(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Difference>) {
    let (a, b) = (value(a), value(b));
    if a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for sub in keys(x, y) {
                let (old, new) = (value(x.get(sub)), value(y.get(sub)));
                if old != new {
                    out.push(Difference {
                        path: format!("{path}.{sub}"),
                        old: old.cloned(),
                        new: new.cloned(),
                    });
                }
            }
        }
        _ => out.push(Difference {
            path: path.to_owned(),
            old: a.cloned(),
            new: b.cloned(),
        }),
    }
}

/// An extension object keyed by its schema URN: its attributes as
/// `urn:...:attribute`.
fn extension(urn: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Difference>) {
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
    fn differences_carry_both_values() {
        let old = json!({"active": true, "name": {"givenName": "A"}, "title": "T"});
        let new = json!({"active": false, "name": {"givenName": "C"}, "nickName": "N"});
        let d = differences(&old, &new);
        let of = |p: &str| d.iter().find(|x| x.path == p).cloned().unwrap();
        assert_eq!(
            (of("active").old, of("active").new),
            (Some(json!(true)), Some(json!(false)))
        );
        assert_eq!(of("name.givenName").new, Some(json!("C")));
        assert_eq!((of("title").old, of("title").new), (Some(json!("T")), None));
        assert_eq!(
            (of("nickName").old, of("nickName").new),
            (None, Some(json!("N")))
        );
    }

    #[test]
    fn removed_attribute_is_changed() {
        let old = json!({"displayName": "g", "externalId": "e"});
        let new = json!({"displayName": "g"});
        assert_eq!(changed(&old, &new), vec!["externalId".to_owned()]);
    }
}
