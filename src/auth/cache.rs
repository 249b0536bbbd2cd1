//! A bounded map that evicts its least recently used entry, one at a time:
//! the verifier's caches are filled from unauthenticated paths, so they
//! must not grow without limit, and a flood must never clear them whole.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// At most `capacity` entries; inserting into a full map evicts the one
/// used longest ago. Every operation is O(log n).
pub struct Lru<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, u64)>,
    /// Use stamp to key, oldest first.
    order: BTreeMap<u64, K>,
    clock: u64,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(capacity: usize) -> Self {
        Lru {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The entry, marked used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let now = self.tick();
        let (_, stamp) = self.entries.get_mut(key)?;
        let old = std::mem::replace(stamp, now);
        self.order.remove(&old);
        self.order.insert(now, key.clone());
        self.entries.get(key).map(|(v, _)| v)
    }

    pub fn insert(&mut self, key: K, value: V) {
        let now = self.tick();
        if let Some((_, old)) = self.entries.insert(key.clone(), (value, now)) {
            self.order.remove(&old);
        } else if self.entries.len() > self.capacity
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.entries.remove(&oldest);
        }
        self.order.insert(now, key);
    }

    pub fn remove(&mut self, key: &K) {
        if let Some((_, stamp)) = self.entries.remove(key) {
            self.order.remove(&stamp);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first_one_at_a_time() {
        let mut lru = Lru::new(3);
        for k in ["a", "b", "c"] {
            lru.insert(k, k.len());
        }
        assert!(lru.get(&"a").is_some(), "a used: b is now the oldest");
        lru.insert("d", 1);
        assert_eq!(lru.len(), 3);
        assert!(lru.get(&"b").is_none());
        for k in ["a", "c", "d"] {
            assert!(lru.get(&k).is_some(), "{k}");
        }
        lru.insert("a", 9);
        assert_eq!(lru.get(&"a"), Some(&9));
        assert_eq!(lru.len(), 3, "replacing evicts nothing");
        lru.remove(&"a");
        assert_eq!(lru.len(), 2);
    }
}
