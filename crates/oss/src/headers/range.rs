//! `Range: bytes=…` (§6.2) under both OSS behaviours: legacy (anything unsatisfiable is ignored and the whole
//! object is sent) and `x-oss-range-behavior: standard` (RFC 7233: clamp the end, 416 past the end).

use http::HeaderMap;

use crate::error::OssError;

/// The header that selects the standard behaviour.
pub const RANGE_BEHAVIOR: &str = "x-oss-range-behavior";

/// One syntactically valid byte-range spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=a-b` (both inclusive, `a <= b`).
    FromTo(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// A parsed `Range` header: the first spec and whether more followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeHeader {
    /// The first range.
    pub first: RangeSpec,
    /// Whether the header listed several ranges.
    pub multiple: bool,
}

impl RangeSpec {
    fn parse_one(spec: &str) -> Option<Self> {
        let (start, end) = spec.trim().split_once('-')?;
        let number = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        match (start.trim(), end.trim()) {
            ("", n) => number(n).map(Self::Suffix),
            (a, "") => number(a).map(Self::From),
            (a, b) => {
                let (a, b) = (number(a)?, number(b)?);
                (a <= b).then_some(Self::FromTo(a, b))
            }
        }
    }

    /// Parses `bytes=<spec>[,<spec>…]`. `None` when the header is not a valid byte-range set (e.g. `byte=0-1`,
    /// `bytes=5-1`, `bytes=x-`), which both behaviours treat as "no range".
    pub fn parse(header: &str) -> Option<RangeHeader> {
        let set = header.trim().strip_prefix("bytes=")?;
        let mut specs = set.split(',');
        let first = Self::parse_one(specs.next()?)?;
        let mut multiple = false;
        for spec in specs {
            Self::parse_one(spec)?;
            multiple = true;
        }
        Some(RangeHeader { first, multiple })
    }
}

/// Which range semantics apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeBehavior {
    /// OSS's historical behaviour.
    Legacy,
    /// `x-oss-range-behavior: standard`.
    Standard,
}

impl RangeBehavior {
    /// Reads `x-oss-range-behavior`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        match headers
            .get(RANGE_BEHAVIOR)
            .map(|v| v.as_bytes().eq_ignore_ascii_case(b"standard"))
        {
            Some(true) => Self::Standard,
            _ => Self::Legacy,
        }
    }
}

/// A satisfiable range of an object of `total` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte, inclusive.
    pub end: u64,
    /// Object size.
    pub total: u64,
}

impl ByteRange {
    /// Number of bytes in the range (never zero).
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Always false: a satisfiable range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` value: `bytes a-b/total`.
    pub fn content_range(&self) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, self.total)
    }
}

/// Applies a `Range` header value to an object of `size` bytes. `Ok(None)` means "send the whole object
/// with 200"; `Ok(Some(r))` means 206 with `r`; `Err` is `416 InvalidRange` (standard behaviour only).
pub fn resolve_range(
    header: Option<&str>,
    behavior: RangeBehavior,
    size: u64,
) -> Result<Option<ByteRange>, OssError> {
    let Some(parsed) = header.and_then(RangeSpec::parse) else {
        return Ok(None);
    };
    let whole = |start: u64| ByteRange {
        start,
        end: size.saturating_sub(1),
        total: size,
    };
    match behavior {
        RangeBehavior::Legacy => {
            if parsed.multiple || size == 0 {
                return Ok(None);
            }
            Ok(match parsed.first {
                RangeSpec::FromTo(a, b) if b < size => Some(ByteRange {
                    start: a,
                    end: b,
                    total: size,
                }),
                RangeSpec::From(a) if a < size => Some(whole(a)),
                RangeSpec::Suffix(n) if n > 0 && n <= size => Some(whole(size - n)),
                _ => None,
            })
        }
        RangeBehavior::Standard => match parsed.first {
            RangeSpec::FromTo(a, b) if a < size => Ok(Some(ByteRange {
                start: a,
                end: b.min(size - 1),
                total: size,
            })),
            RangeSpec::From(a) if a < size => Ok(Some(whole(a))),
            RangeSpec::Suffix(n) if n > 0 && size > 0 => Ok(Some(whole(size - n.min(size)))),
            _ => Err(OssError::invalid_range().header("content-range", format!("bytes */{size}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::error::ErrorCode;

    fn legacy(h: &str, size: u64) -> Option<(u64, u64)> {
        resolve_range(Some(h), RangeBehavior::Legacy, size)
            .ok()
            .flatten()
            .map(|r| (r.start, r.end))
    }

    fn standard(h: &str, size: u64) -> Result<Option<(u64, u64)>, ErrorCode> {
        resolve_range(Some(h), RangeBehavior::Standard, size)
            .map(|r| r.map(|r| (r.start, r.end)))
            .map_err(|e| e.code())
    }

    #[test]
    fn legacy_behaviour_ignores_what_it_cannot_satisfy() {
        assert_eq!(legacy("bytes=0-9", 1000), Some((0, 9)));
        assert_eq!(legacy("bytes=990-", 1000), Some((990, 999)));
        assert_eq!(legacy("bytes=-10", 1000), Some((990, 999)));
        assert_eq!(legacy("byte=0-1", 1000), None);
        assert_eq!(legacy("bytes=500-2000", 1000), None);
        assert_eq!(legacy("bytes=1000-", 1000), None);
        assert_eq!(legacy("bytes=-1001", 1000), None);
        assert_eq!(legacy("bytes=0-1,5-6", 1000), None);
        assert_eq!(legacy("bytes=5-1", 1000), None);
        assert_eq!(legacy("bytes=0-0", 0), None);
    }

    #[test]
    fn standard_behaviour_clamps_and_rejects() {
        assert_eq!(standard("bytes=500-2000", 1000), Ok(Some((500, 999))));
        assert_eq!(standard("bytes=1000-", 1000), Err(ErrorCode::InvalidRange));
        assert_eq!(standard("bytes=1000-1001", 1000), Err(ErrorCode::InvalidRange));
        assert_eq!(standard("bytes=-2000", 1000), Ok(Some((0, 999))));
        assert_eq!(standard("bytes=-0", 1000), Err(ErrorCode::InvalidRange));
        assert_eq!(standard("bytes=0-1,5-6", 1000), Ok(Some((0, 1))));
        assert_eq!(standard("bytes=0-", 0), Err(ErrorCode::InvalidRange));
        assert_eq!(standard("byte=0-1", 1000), Ok(None));
        let r = resolve_range(Some("bytes=500-2000"), RangeBehavior::Standard, 1000)
            .ok()
            .flatten();
        assert_eq!(
            r.map(|r| r.content_range()),
            Some("bytes 500-999/1000".to_owned())
        );
    }

    #[test]
    fn behaviour_header() {
        let mut h = HeaderMap::new();
        assert_eq!(RangeBehavior::from_headers(&h), RangeBehavior::Legacy);
        h.insert(RANGE_BEHAVIOR, http::HeaderValue::from_static("standard"));
        assert_eq!(RangeBehavior::from_headers(&h), RangeBehavior::Standard);
    }

    proptest! {
        #[test]
        fn resolved_ranges_lie_inside_the_object(
            header in prop_oneof![
                (0u64..2000, 0u64..2000).prop_map(|(a, b)| format!("bytes={a}-{b}")),
                (0u64..2000).prop_map(|a| format!("bytes={a}-")),
                (0u64..2000).prop_map(|n| format!("bytes=-{n}")),
                ".{0,20}",
            ],
            size in 0u64..1500,
            standard_mode in any::<bool>(),
        ) {
            let behavior = if standard_mode { RangeBehavior::Standard } else { RangeBehavior::Legacy };
            if let Ok(Some(r)) = resolve_range(Some(&header), behavior, size) {
                prop_assert!(r.start <= r.end && r.end < size);
                prop_assert_eq!(r.len(), r.end - r.start + 1);
                prop_assert_eq!(r.total, size);
                match RangeSpec::parse(&header).map(|h| h.first) {
                    Some(RangeSpec::FromTo(a, b)) => { prop_assert_eq!(r.start, a); prop_assert_eq!(r.end, b.min(size - 1)); }
                    Some(RangeSpec::From(a)) => { prop_assert_eq!((r.start, r.end), (a, size - 1)); }
                    Some(RangeSpec::Suffix(n)) => { prop_assert_eq!(r.len(), n.min(size)); prop_assert_eq!(r.end, size - 1); }
                    None => prop_assert!(false, "a range came from an unparsable header"),
                }
            }
        }

        #[test]
        fn legacy_never_fails(header in ".{0,40}", size in any::<u64>()) {
            prop_assert!(resolve_range(Some(&header), RangeBehavior::Legacy, size).is_ok());
        }
    }
}
