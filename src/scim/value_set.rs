//! A set of JSON values with the equality of [`serde_json::Value`] (object
//! keys in any order), in expected constant time per value: what keeps
//! de-duplicating multi-valued attributes and matching PATCH selectors
//! linear in the number of values instead of quadratic.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use serde_json::Value;

/// Values borrowed from elsewhere, bucketed by a structural hash (seeded per
/// set, so crafted collisions cannot be prepared in advance).
#[derive(Default)]
pub struct ValueSet<'v> {
    state: RandomState,
    buckets: HashMap<u64, Vec<&'v Value>>,
}

impl<'v> ValueSet<'v> {
    /// Adds `value`; false when an equal value is already in the set.
    pub fn insert(&mut self, value: &'v Value) -> bool {
        let bucket = self.buckets.entry(hash(&self.state, value)).or_default();
        if bucket.contains(&value) {
            return false;
        }
        bucket.push(value);
        true
    }

    /// Whether a value equal to `value` is in the set.
    pub fn contains(&self, value: &Value) -> bool {
        self.buckets
            .get(&hash(&self.state, value))
            .is_some_and(|b| b.contains(&value))
    }
}

/// `items` without repeats, the first of equal values kept in place.
pub fn dedup(items: Vec<Value>) -> Vec<Value> {
    let keep: Vec<bool> = {
        let mut seen = ValueSet::default();
        items.iter().map(|v| seen.insert(v)).collect()
    };
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(v, k)| k.then_some(v))
        .collect()
}

/// A hash consistent with `Value`'s equality: objects hash their entries
/// order-independently; numbers hash their `f64` value (equal numbers have
/// equal values; `-0.0` and `0.0` are equal and hash alike).
fn hash(state: &RandomState, value: &Value) -> u64 {
    let mut h = state.build_hasher();
    feed(state, value, &mut h);
    h.finish()
}

fn feed(state: &RandomState, value: &Value, h: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or_default();
            let f = if f == 0.0 { 0.0 } else { f };
            (2u8, f.to_bits()).hash(h);
        }
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|v| feed(state, v, h));
        }
        Value::Object(map) => {
            let entries = map.iter().fold(0u64, |sum, (k, v)| {
                let mut e = state.build_hasher();
                k.hash(&mut e);
                feed(state, v, &mut e);
                sum.wrapping_add(e.finish())
            });
            (5u8, map.len(), entries).hash(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The quadratic de-duplication this replaces.
    fn dedup_by_scan(items: Vec<Value>) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        for v in items {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(Value::from),
            prop::sample::select(vec![0.0, -0.0, 1.0, 2.5]).prop_map(Value::from),
            prop::sample::select(vec!["a", "A", "work", ""]).prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["value", "type", "primary"]),
                        inner
                    ),
                    0..3
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #[test]
        fn dedup_equals_the_scan(items in prop::collection::vec(arb_value(), 0..12)) {
            prop_assert_eq!(dedup(items.clone()), dedup_by_scan(items));
        }
    }

    #[test]
    fn objects_equal_in_any_key_order() {
        let a = json!({"value": "x", "type": "work"});
        let b = json!({"type": "work", "value": "x"});
        let mut set = ValueSet::default();
        assert!(set.insert(&a));
        assert!(!set.insert(&b));
        assert!(set.contains(&json!({"type": "work", "value": "x"})));
        assert!(!set.contains(&json!({"type": "home", "value": "x"})));
        assert_eq!(
            dedup(vec![json!(1), json!(1.0), json!(1)]),
            vec![json!(1), json!(1.0)]
        );
    }
}
