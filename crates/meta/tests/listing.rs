//! ListObjects against a naive model: every page is the next `max_keys` entries (keys and rolled-up
//! common prefixes, in byte order) after the marker, and paging with `next_marker` visits each
//! entry exactly once.

mod support;

use std::collections::BTreeSet;

use cang_meta_api::{ListObjectsQuery, MetaError};
use proptest::prelude::*;
use support::{bucket, put, store};

/// The model: the sorted set of entries (a key, or the common prefix it rolls up into) after `after`.
fn model(keys: &BTreeSet<String>, prefix: &str, delimiter: &str, after: &str) -> Vec<String> {
    let entries: BTreeSet<String> = keys
        .iter()
        .filter(|k| k.starts_with(prefix))
        .map(|k| {
            match (!delimiter.is_empty())
                .then(|| k[prefix.len()..].find(delimiter))
                .flatten()
            {
                Some(i) => k[..prefix.len() + i + delimiter.len()].to_owned(),
                None => k.clone(),
            }
        })
        .collect();
    entries.into_iter().filter(|e| e.as_str() > after).collect()
}

fn key_strategy() -> impl Strategy<Value = String> {
    // A small alphabet with the delimiter and a multi-byte character, so roll-ups and byte order matter.
    proptest::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("/"), Just("-"), Just("藏"), Just("z")],
        1..6,
    )
    .prop_map(|parts| parts.concat())
    .prop_filter("valid key", |k| !k.starts_with('/'))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn pages_match_the_model(
        keys in proptest::collection::btree_set(key_strategy(), 0..40),
        prefix in prop_oneof![Just(""), Just("a"), Just("a/"), Just("b-"), Just("藏")],
        delimiter in prop_oneof![Just(""), Just("/"), Just("-"), Just("藏")],
        start in prop_oneof![Just(""), Just("a"), Just("a/"), Just("b"), Just("z")],
        max_keys in 1u32..6,
    ) {
        let (_d, s) = store();
        bucket(&s, "bkt");
        for k in &keys {
            put(&s, "bkt", k, k.as_bytes(), "E");
        }
        let expected = model(&keys, prefix, delimiter, start);
        let mut seen = Vec::new();
        let mut after = start.to_owned();
        for _ in 0..=expected.len() {
            let q = ListObjectsQuery { prefix: prefix.into(), delimiter: delimiter.into(), start_after: after.clone(), max_keys };
            let page = s.list_objects("bkt", &q).unwrap();
            let mut entries: Vec<String> = page.objects.iter().map(|o| o.key.clone()).chain(page.common_prefixes.iter().cloned()).collect();
            entries.sort();
            prop_assert!(entries.len() <= max_keys as usize);
            for o in &page.objects {
                prop_assert_eq!(o.size, o.key.len() as u64);
            }
            seen.extend(entries.iter().cloned());
            let remaining = expected.len() - seen.len().min(expected.len());
            prop_assert_eq!(page.is_truncated, remaining > 0);
            if !page.is_truncated {
                prop_assert_eq!(page.next_marker, None);
                break;
            }
            prop_assert_eq!(page.next_marker.as_ref(), entries.last());
            after = page.next_marker.unwrap();
        }
        prop_assert_eq!(seen, expected);
    }
}

#[test]
fn max_keys_and_bucket_are_validated() {
    let (_d, s) = store();
    bucket(&s, "bkt");
    let q = ListObjectsQuery {
        max_keys: 1001,
        ..ListObjectsQuery::default()
    };
    assert!(matches!(
        s.list_objects("bkt", &q),
        Err(MetaError::InvalidArgument(_))
    ));
    let q = ListObjectsQuery {
        max_keys: 10,
        ..ListObjectsQuery::default()
    };
    assert_eq!(s.list_objects("nope", &q), Err(MetaError::NoSuchBucket));
}

#[test]
fn many_keys_under_one_prefix_roll_up_to_one_entry() {
    let (_d, s) = store();
    bucket(&s, "bkt");
    for i in 0..300 {
        put(&s, "bkt", &format!("logs/{i:04}"), b"x", "E");
    }
    put(&s, "bkt", "readme", b"x", "E");
    let q = ListObjectsQuery {
        delimiter: "/".into(),
        max_keys: 1000,
        ..ListObjectsQuery::default()
    };
    let page = s.list_objects("bkt", &q).unwrap();
    assert_eq!(page.common_prefixes, ["logs/"]);
    assert_eq!(
        page.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["readme"]
    );
    assert!(!page.is_truncated);
}
