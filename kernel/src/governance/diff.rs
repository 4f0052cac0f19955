//! Typed diffs: where two JSON renderings of a value differ, as JSON paths with old → new.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// At most this many changes are listed per value; the rest are counted.
pub const CHANGES_PER_VALUE_MAX: usize = 256;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Where, e.g. `$.balance` or `$.items[2]` (`$` is the whole value).
    pub path: String,
    /// The value before (absent when the place is new).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub old: Option<Json>,
    /// The value after (absent when the place is gone).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new: Option<Json>,
}

/// The differences between `old` and `new` (both may be absent), deepest places first where
/// both sides are objects or equally long arrays, else the whole place; at most
/// [`CHANGES_PER_VALUE_MAX`] of them, and how many more there were.
pub fn diff(old: Option<&Json>, new: Option<&Json>) -> (Vec<Change>, u64) {
    let mut out = Vec::new();
    let mut more = 0;
    walk("$".to_owned(), old, new, &mut out, &mut more);
    (out, more)
}

fn walk(
    path: String,
    old: Option<&Json>,
    new: Option<&Json>,
    out: &mut Vec<Change>,
    more: &mut u64,
) {
    match (old, new) {
        (Some(a), Some(b)) if a == b => {}
        (Some(Json::Object(a)), Some(Json::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = worldline_air::json::join_key(&path, key);
                walk(child, a.get(key), b.get(key), out, more);
            }
        }
        (Some(Json::Array(a)), Some(Json::Array(b))) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                walk(
                    worldline_air::json::join_index(&path, index),
                    Some(x),
                    Some(y),
                    out,
                    more,
                );
            }
        }
        (None, None) => {}
        (old, new) => {
            if out.len() >= CHANGES_PER_VALUE_MAX {
                *more += 1;
                return;
            }
            out.push(Change {
                path,
                old: old.cloned(),
                new: new.cloned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_name_the_deepest_place() {
        let old = json!({"n": 1, "inner": {"a": [1, 2], "b": "x"}, "gone": true});
        let new = json!({"n": 2, "inner": {"a": [1, 3], "b": "x"}, "new key": null});
        let (changes, more) = diff(Some(&old), Some(&new));
        assert_eq!(more, 0);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["$.gone", "$.inner.a[1]", "$.n", "$[\"new key\"]"]);
        assert_eq!(changes[1].old, Some(json!(2)));
        assert_eq!(changes[1].new, Some(json!(3)));
        assert_eq!(changes[0].new, None);
    }

    #[test]
    fn whole_values_appear_and_vanish() {
        let (changes, _) = diff(None, Some(&json!({"a": 1})));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "$");
        assert!(diff(Some(&json!([1])), Some(&json!([1]))).0.is_empty());
        let (changes, _) = diff(Some(&json!([1])), Some(&json!([1, 2])));
        assert_eq!(changes[0].path, "$");
    }

    #[test]
    fn long_diffs_are_capped() {
        let old = Json::Array((0..300).map(|i| json!(i)).collect());
        let new = Json::Array((0..300).map(|i| json!(i + 1)).collect());
        let (changes, more) = diff(Some(&old), Some(&new));
        assert_eq!(changes.len(), CHANGES_PER_VALUE_MAX);
        assert_eq!(more, 300 - CHANGES_PER_VALUE_MAX as u64);
    }
}
