//! The two time formats OSS clients parse: `Sat, 05 Dec 2015 11:10:29 GMT` in headers and
//! `2015-12-05T11:10:29.000Z` inside XML (oss2 requires the literal `.000Z`, §3.2).

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

const HTTP_DATE: &[FormatItem<'static>] =
    format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
const XML_DATE: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");

/// Formats an HTTP date header value (RFC 1123, always GMT, two-digit day).
pub fn http_date(t: SystemTime) -> String {
    // Formatting a valid date with a fixed, fully numeric/English description cannot fail.
    OffsetDateTime::from(t).format(HTTP_DATE).unwrap_or_default()
}

/// Formats a timestamp for XML bodies, seconds precision with a literal `.000Z`.
pub fn xml_date(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(XML_DATE).unwrap_or_default()
}

/// Parses an RFC 1123 HTTP date (`Tue, 02 Jan 2024 03:04:05 GMT`). `None` for anything else.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let parsed = time::PrimitiveDateTime::parse(value.trim(), HTTP_DATE).ok()?;
    Some(parsed.assume_utc().into())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_449_313_829);
        assert_eq!(http_date(t), "Sat, 05 Dec 2015 11:10:29 GMT");
        assert_eq!(
            xml_date(t + Duration::from_millis(999)),
            "2015-12-05T11:10:29.000Z"
        );
        assert_eq!(parse_http_date("Sat, 05 Dec 2015 11:10:29 GMT"), Some(t));
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(1_704_164_645)),
            "Tue, 02 Jan 2024 03:04:05 GMT"
        );
        assert_eq!(parse_http_date("2015-12-05T11:10:29Z"), None);
        assert_eq!(parse_http_date(""), None);
    }

    proptest! {
        #[test]
        fn http_dates_round_trip(secs in 0u64..4_102_444_800) {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            prop_assert_eq!(parse_http_date(&http_date(t)), Some(t));
        }
    }
}
