//! `*` / `?` wildcard matching for actions, resources, principals and `StringLike` conditions.
//!
//! `*` matches any run of characters (including none) and `?` exactly one character; there is no
//! escape. The matcher is the iterative greedy algorithm with a single backtrack point (the most
//! recent `*`): a later `*` makes any earlier backtrack point unnecessary, so the worst case is
//! O(pattern × text) and never exponential, whatever the pattern. It works on `char`s, so `?` matches
//! one Unicode scalar value of an object key, not one byte.

/// Whether letters must match exactly or up to ASCII case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    /// `a` matches only `a`.
    Sensitive,
    /// `a` matches `a` and `A`. Only ASCII letters fold: action names are ASCII.
    InsensitiveAscii,
}

impl Case {
    fn eq(self, a: char, b: char) -> bool {
        match self {
            Case::Sensitive => a == b,
            Case::InsensitiveAscii => a.eq_ignore_ascii_case(&b),
        }
    }
}

/// The character starting at byte offset `at` of `s`, and the offset just after it.
fn char_at(s: &str, at: usize) -> Option<(char, usize)> {
    s.get(at..)?.chars().next().map(|c| (c, at + c.len_utf8()))
}

/// Whether `text` matches the wildcard `pattern` as a whole.
pub(crate) fn matches(pattern: &str, text: &str, case: Case) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // (position in the pattern just after the last `*`, position in the text that `*` resumes from)
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some((tc, t_next)) = char_at(text, t) {
        match char_at(pattern, p) {
            Some(('*', p_next)) => {
                backtrack = Some((p_next, t));
                p = p_next;
                continue;
            }
            Some((pc, p_next)) if pc == '?' || case.eq(pc, tc) => {
                p = p_next;
                t = t_next;
                continue;
            }
            _ => {}
        }
        // Mismatch: let the last `*` swallow one more character and retry from just after it.
        match backtrack {
            Some((after_star, resume)) => {
                let Some((_, resume_next)) = char_at(text, resume) else {
                    return false;
                };
                backtrack = Some((after_star, resume_next));
                p = after_star;
                t = resume_next;
            }
            None => return false,
        }
    }
    // The text is exhausted: only trailing `*`s may remain.
    pattern
        .get(p..)
        .is_some_and(|rest| rest.chars().all(|c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook recursive definition, exponential in the worst case; the reference the fast
    /// matcher is checked against.
    fn reference(pattern: &[char], text: &[char], case: Case) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|skip| reference(rest, &text[skip..], case)),
            Some((&pc, rest)) => match text.split_first() {
                Some((&tc, text_rest)) => (pc == '?' || case.eq(pc, tc)) && reference(rest, text_rest, case),
                None => false,
            },
        }
    }

    fn reference_str(pattern: &str, text: &str, case: Case) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        reference(&p, &t, case)
    }

    #[test]
    fn known_cases() {
        let s = Case::Sensitive;
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("?", "", false),
            ("?", "é", true),
            ("??", "é", false),
            ("a*b", "ab", true),
            ("a*b", "axxb", true),
            ("a*b", "axxbc", false),
            ("a*b*c", "abbbc", true),
            ("a*?c", "ac", false),
            ("a*?c", "abc", true),
            ("*.txt", "dir/file.txt", true),
            ("*.txt", "dir/file.txt.gz", false),
            ("acs:oss:*:*:bucket/*", "acs:oss:*:1234:bucket/a/b.txt", true),
            ("acs:oss:*:*:bucket/*", "acs:oss:*:1234:bucket", false),
            ("acs:oss:*:*:bucket", "acs:oss:*:1234:bucket", true),
            ("acs:kms:*:1234:*", "acs:kms:cn-hangzhou:1234:key/k-1", true),
            ("acs:kms:*:1234:*", "acs:kms:cn-hangzhou:9999:key/k-1", false),
            ("Bucket/*", "bucket/x", false),
        ];
        for &(pattern, text, want) in cases {
            assert_eq!(matches(pattern, text, s), want, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn ascii_case_folding_only_when_asked() {
        assert!(matches("kms:List*", "KMS:listkeys", Case::InsensitiveAscii));
        assert!(!matches("kms:List*", "KMS:listkeys", Case::Sensitive));
        assert!(matches("oss:GetObject", "oss:getobject", Case::InsensitiveAscii));
        assert!(!matches(
            "oss:GetObject",
            "oss:GetObjectAcl",
            Case::InsensitiveAscii
        ));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        // Exponential for a naive backtracker; linear-ish here.
        let pattern = format!("{}b", "a*".repeat(200));
        let text = "a".repeat(5_000);
        let started = std::time::Instant::now();
        assert!(!matches(&pattern, &text, Case::Sensitive));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    fn small_alphabet(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![Just('a'), Just('b'), Just('A'), Just('é'), Just('/')],
            0..max,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn pattern_alphabet(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('a'),
                Just('b'),
                Just('A'),
                Just('é'),
                Just('/'),
                Just('*'),
                Just('?')
            ],
            0..max,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn agrees_with_reference(pattern in pattern_alphabet(10), text in small_alphabet(12)) {
            for case in [Case::Sensitive, Case::InsensitiveAscii] {
                prop_assert_eq!(matches(&pattern, &text, case), reference_str(&pattern, &text, case));
            }
        }

        #[test]
        fn agrees_with_reference_on_arbitrary_strings(pattern in "[*?a-c]{0,8}", text in "\\PC{0,10}") {
            prop_assert_eq!(
                matches(&pattern, &text, Case::Sensitive),
                reference_str(&pattern, &text, Case::Sensitive)
            );
        }

        #[test]
        fn literal_pattern_is_equality(text in "\\PC{0,16}", other in "\\PC{0,16}") {
            prop_assume!(!text.contains(['*', '?']));
            prop_assert!(matches(&text, &text, Case::Sensitive));
            prop_assert_eq!(matches(&text, &other, Case::Sensitive), text == other);
        }
    }
}
