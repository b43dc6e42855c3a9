//! Prefix matching for subscriptions: a byte trie whose nodes hold the keys
//! (pipes, or one local key with a count) subscribed to the prefix ending
//! there.
//!
//! Matching walks the message's first frame once, collecting the keys of
//! every node on the path, so its cost depends on the topic's length, not on
//! how many subscriptions exist. Children are kept in a sorted vector
//! (binary search), which stays compact for the sparse fan-out of real
//! topic sets. No I/O, no threads.

use smallvec::SmallVec;

/// One node: the keys subscribed to the prefix that ends here, with counts.
#[derive(Default, Debug)]
struct Node {
    keys: SmallVec<[(u64, u32); 2]>,
    children: Vec<(u8, Node)>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.children.is_empty()
    }
}

/// A subscription trie.
#[derive(Default, Debug)]
pub(crate) struct Trie {
    root: Node,
    /// Number of (prefix, key) entries.
    entries: usize,
}

impl Trie {
    /// Adds `key` to `prefix`. With `counted`, a repeated add increases a
    /// count that as many removes must bring down; without it an add is
    /// idempotent. Returns whether the prefix had no key before (a new
    /// topic).
    pub(crate) fn add(&mut self, prefix: &[u8], key: u64, counted: bool) -> bool {
        let mut node = &mut self.root;
        for &b in prefix {
            let i = match node.children.binary_search_by_key(&b, |(c, _)| *c) {
                Ok(i) => i,
                Err(i) => {
                    node.children.insert(i, (b, Node::default()));
                    i
                }
            };
            node = &mut node.children[i].1;
        }
        let was_empty = node.keys.is_empty();
        match node.keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => {
                if counted {
                    *n = n.saturating_add(1);
                }
            }
            None => {
                node.keys.push((key, 1));
                self.entries += 1;
            }
        }
        was_empty
    }

    /// Removes `key` from `prefix` (one count of it with `counted`). Returns
    /// whether the prefix is left with no key (the topic is gone), and false
    /// when the key was not subscribed at all.
    pub(crate) fn rm(&mut self, prefix: &[u8], key: u64, counted: bool) -> bool {
        self.remove(prefix, key, counted) == Removal::Last
    }

    /// [`rm`](Self::rm), telling a key that was not subscribed apart from
    /// one whose prefix other keys still hold.
    pub(crate) fn remove(&mut self, prefix: &[u8], key: u64, counted: bool) -> Removal {
        let (found, gone) = Self::rm_at(&mut self.root, prefix, key, counted);
        if found == Found::Removed {
            self.entries -= 1;
        }
        match found {
            Found::No => Removal::NotFound,
            _ if gone => Removal::Last,
            _ => Removal::Remain,
        }
    }

    fn rm_at(node: &mut Node, prefix: &[u8], key: u64, counted: bool) -> (Found, bool) {
        match prefix.split_first() {
            None => {
                let Some(pos) = node.keys.iter().position(|(k, _)| *k == key) else {
                    return (Found::No, false);
                };
                let n = &mut node.keys[pos].1;
                if counted && *n > 1 {
                    *n -= 1;
                    return (Found::Decremented, false);
                }
                node.keys.remove(pos);
                (Found::Removed, node.keys.is_empty())
            }
            Some((&b, rest)) => {
                let Ok(i) = node.children.binary_search_by_key(&b, |(c, _)| *c) else {
                    return (Found::No, false);
                };
                let r = Self::rm_at(&mut node.children[i].1, rest, key, counted);
                if node.children[i].1.is_empty() {
                    node.children.remove(i);
                }
                r
            }
        }
    }

    /// Removes `key` from every prefix; calls `removed` with each prefix it
    /// held and whether that prefix is left with no key.
    pub(crate) fn rm_key(&mut self, key: u64, mut removed: impl FnMut(&[u8], bool)) {
        let mut path = Vec::new();
        let n = Self::rm_key_at(&mut self.root, key, &mut path, &mut removed);
        self.entries -= n;
    }

    fn rm_key_at(
        node: &mut Node,
        key: u64,
        path: &mut Vec<u8>,
        on_removed: &mut impl FnMut(&[u8], bool),
    ) -> usize {
        let mut removed = 0;
        if let Some(pos) = node.keys.iter().position(|(k, _)| *k == key) {
            node.keys.remove(pos);
            removed += 1;
            on_removed(path, node.keys.is_empty());
        }
        let mut i = 0;
        while i < node.children.len() {
            path.push(node.children[i].0);
            removed += Self::rm_key_at(&mut node.children[i].1, key, path, on_removed);
            path.pop();
            if node.children[i].1.is_empty() {
                node.children.remove(i);
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Calls `f` with every key subscribed to a prefix of `data`, once per
    /// matching prefix (a key subscribed to two matching prefixes comes
    /// twice).
    pub(crate) fn matches(&self, data: &[u8], mut f: impl FnMut(u64)) {
        let mut node = &self.root;
        for (k, _) in &node.keys {
            f(*k);
        }
        for &b in data {
            match node.children.binary_search_by_key(&b, |(c, _)| *c) {
                Ok(i) => node = &node.children[i].1,
                Err(_) => return,
            }
            for (k, _) in &node.keys {
                f(*k);
            }
        }
    }

    /// Whether any prefix of `data` is subscribed.
    pub(crate) fn matches_any(&self, data: &[u8]) -> bool {
        let mut node = &self.root;
        if !node.keys.is_empty() {
            return true;
        }
        for &b in data {
            match node.children.binary_search_by_key(&b, |(c, _)| *c) {
                Ok(i) => node = &node.children[i].1,
                Err(_) => return false,
            }
            if !node.keys.is_empty() {
                return true;
            }
        }
        false
    }

    /// Calls `f` with every prefix that has a key (each once).
    pub(crate) fn for_each_prefix(&self, mut f: impl FnMut(&[u8])) {
        fn walk(node: &Node, path: &mut Vec<u8>, f: &mut impl FnMut(&[u8])) {
            if !node.keys.is_empty() {
                f(path);
            }
            for (b, child) in &node.children {
                path.push(*b);
                walk(child, path, f);
                path.pop();
            }
        }
        walk(&self.root, &mut Vec::new(), &mut f);
    }

    /// Whether nothing is subscribed.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Found {
    No,
    Decremented,
    Removed,
}

/// What [`Trie::remove`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// The key was not subscribed to the prefix.
    NotFound,
    /// The key was the prefix's last: the topic is gone.
    Last,
    /// Other keys (or further counts of this one) still hold the prefix.
    Remain,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(t: &Trie, data: &[u8]) -> Vec<u64> {
        let mut v = Vec::new();
        t.matches(data, |k| v.push(k));
        v.sort_unstable();
        v
    }

    #[test]
    fn prefix_matching() {
        let mut t = Trie::default();
        assert!(t.add(b"ab", 1, false));
        assert!(!t.add(b"ab", 2, false));
        assert!(t.add(b"a", 3, false));
        assert!(t.add(b"", 4, false));
        assert_eq!(matched(&t, b"abc"), vec![1, 2, 3, 4]);
        assert_eq!(matched(&t, b"a"), vec![3, 4]);
        assert_eq!(matched(&t, b"b"), vec![4]);
        assert!(t.matches_any(b"zzz"));
        assert!(t.rm(b"", 4, false));
        assert!(!t.matches_any(b"zzz"));
        assert!(t.matches_any(b"abz"));
        assert!(!t.rm(b"ab", 1, false));
        assert!(t.rm(b"ab", 2, false));
        assert!(!t.rm(b"ab", 2, false), "not subscribed any more");
        assert_eq!(matched(&t, b"abc"), vec![3]);
    }

    #[test]
    fn counted_and_idempotent() {
        let mut t = Trie::default();
        t.add(b"x", 0, true);
        t.add(b"x", 0, true);
        assert!(!t.rm(b"x", 0, true));
        assert!(t.matches_any(b"x1"));
        assert!(t.rm(b"x", 0, true));
        assert!(t.is_empty());
        t.add(b"y", 9, false);
        t.add(b"y", 9, false);
        assert!(t.rm(b"y", 9, false));
        assert!(t.is_empty());
    }

    #[test]
    fn remove_tells_not_found_last_and_remaining() {
        let mut t = Trie::default();
        assert_eq!(t.remove(b"t", 1, false), Removal::NotFound);
        t.add(b"t", 1, false);
        t.add(b"t", 2, false);
        assert_eq!(t.remove(b"t", 3, false), Removal::NotFound);
        assert_eq!(t.remove(b"t", 1, false), Removal::Remain);
        assert_eq!(t.remove(b"t", 1, false), Removal::NotFound);
        assert_eq!(t.remove(b"t", 2, false), Removal::Last);
        t.add(b"u", 0, true);
        t.add(b"u", 0, true);
        assert_eq!(t.remove(b"u", 0, true), Removal::Remain);
        assert_eq!(t.remove(b"u", 0, true), Removal::Last);
        assert!(t.is_empty());
    }

    #[test]
    fn remove_key_everywhere_reports_gone_topics() {
        let mut t = Trie::default();
        t.add(b"a", 1, false);
        t.add(b"ab", 1, false);
        t.add(b"ab", 2, false);
        t.add(b"c", 1, false);
        let mut removed = Vec::new();
        t.rm_key(1, |p, last| removed.push((p.to_vec(), last)));
        removed.sort();
        assert_eq!(
            removed,
            vec![
                (b"a".to_vec(), true),
                (b"ab".to_vec(), false),
                (b"c".to_vec(), true)
            ]
        );
        assert_eq!(matched(&t, b"abc"), vec![2]);
        let mut all = Vec::new();
        t.for_each_prefix(|p| all.push(p.to_vec()));
        assert_eq!(all, vec![b"ab".to_vec()]);
    }

    #[test]
    fn thousands_of_topics() {
        let mut t = Trie::default();
        for i in 0..5000u64 {
            t.add(format!("topic.{i:05}").as_bytes(), i % 7, false);
        }
        assert_eq!(matched(&t, b"topic.04242.x"), vec![4242 % 7]);
        assert!(matched(&t, b"other").is_empty());
    }
}
