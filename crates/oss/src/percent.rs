//! Percent-encoding as OSS needs it: path decoding (`+` stays a plus, §1.2), form decoding for query values
//! (`+` is a space, §1.3) and strict RFC 3986 encoding for `encoding-type=url` responses (§6.15).

use std::fmt::Write as _;

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is kept literally, as the SDKs' own decoders
/// do. With `plus_as_space`, `+` decodes to a space (query strings only).
fn decode_bytes(input: &str, plus_as_space: bool) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a path segment (`+` literal). `None` when the result is not UTF-8.
pub fn decode_path(input: &str) -> Option<String> {
    String::from_utf8(decode_bytes(input, false)).ok()
}

/// Decodes a query name or value (`+` is a space). `None` when the result is not UTF-8.
pub fn decode_form(input: &str) -> Option<String> {
    String::from_utf8(decode_bytes(input, true)).ok()
}

/// Encodes everything except the RFC 3986 unreserved set (`A-Z a-z 0-9 - _ . ~`), so that both
/// `unquote`-style and `QueryUnescape`-style decoders read the original back (§6.15).
pub fn encode_strict(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            // Writing into a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn path_decoding_keeps_plus_and_decodes_slash() {
        assert_eq!(
            decode_path("dir%2Fa%20b%2Bc+d.txt").as_deref(),
            Some("dir/a b+c+d.txt")
        );
        assert_eq!(decode_path("100%").as_deref(), Some("100%"));
        assert_eq!(decode_path("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(decode_path("%E9%98%BF").as_deref(), Some("阿"));
        assert_eq!(decode_path("%FF"), None);
    }

    #[test]
    fn form_decoding_turns_plus_into_space() {
        assert_eq!(decode_form("dir%2F+x").as_deref(), Some("dir/ x"));
        assert_eq!(decode_form("a%2Bb").as_deref(), Some("a+b"));
    }

    #[test]
    fn strict_encoding_escapes_space_plus_and_slash() {
        assert_eq!(encode_strict("a b+c/d~e_f.g-h"), "a%20b%2Bc%2Fd~e_f.g-h");
        assert_eq!(encode_strict("阿"), "%E9%98%BF");
        assert_eq!(encode_strict("\u{1}"), "%01");
    }

    proptest! {
        #[test]
        fn strict_encoding_round_trips_through_both_decoders(s in any::<String>()) {
            let encoded = encode_strict(&s);
            prop_assert_eq!(decode_path(&encoded), Some(s.clone()));
            prop_assert_eq!(decode_form(&encoded), Some(s));
        }

        #[test]
        fn decoding_arbitrary_input_never_panics(s in any::<String>()) {
            let _ = decode_path(&s);
            let _ = decode_form(&s);
        }
    }
}
