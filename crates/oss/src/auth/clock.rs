//! Request times: parsing the two formats SDKs send (RFC 1123 `Date`, ISO 8601 basic `x-oss-date`) and
//! the skew check. The caller passes `now`; nothing here reads a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::macros::format_description;

use super::AuthError;

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_seconds(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// `Tue, 02 Jan 2024 03:04:05 GMT` → Unix seconds.
pub(crate) fn parse_http_date(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text, format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// `20240102T030405Z` → Unix seconds.
pub(crate) fn parse_iso8601_basic(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(text, format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// `20240102` (a V4 scope date) → Unix seconds of that day's midnight UTC.
pub(crate) fn parse_scope_date(value: &str) -> Option<i64> {
    let format = format_description!("[year][month][day]");
    time::Date::parse(value, format)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp())
}

/// Midnight UTC of the day containing `unix` seconds.
pub(crate) fn day_start(unix: i64) -> i64 {
    unix - unix.rem_euclid(86_400)
}

/// `RequestTimeTooSkewed` when `request` is further than `max_skew` from `now`.
pub(crate) fn check_skew(request: i64, raw: &[u8], now: i64, max_skew: Duration) -> Result<(), AuthError> {
    let max = i64::try_from(max_skew.as_secs()).unwrap_or(i64::MAX);
    if request.abs_diff(now) > max.unsigned_abs() {
        return Err(AuthError::RequestTimeTooSkewed {
            request_time: String::from_utf8_lossy(raw).into_owned(),
            server_time: iso8601_millis(now),
        });
    }
    Ok(())
}

/// `2024-01-02T03:04:05.000Z`, the format OSS uses for times in XML.
fn iso8601_millis(unix: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_704_164_645; // 2024-01-02T03:04:05Z

    #[test]
    fn parses_both_request_time_formats() {
        assert_eq!(parse_http_date(b"Tue, 02 Jan 2024 03:04:05 GMT"), Some(T));
        assert_eq!(parse_iso8601_basic(b"20240102T030405Z"), Some(T));
        assert_eq!(parse_scope_date("20240102"), Some(T - 3 * 3600 - 4 * 60 - 5));
        assert_eq!(day_start(T), T - 3 * 3600 - 4 * 60 - 5);
        for bad in [
            &b"2024-01-02"[..],
            b"Tue, 02 Jan 2024 03:04:05 +0800",
            b"",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_http_date(bad), None);
            assert_eq!(parse_iso8601_basic(bad), None);
        }
        assert_eq!(parse_scope_date("2024010"), None);
    }

    #[test]
    fn skew_boundary_is_fifteen_minutes_inclusive() {
        let max = Duration::from_secs(900);
        assert!(check_skew(T, b"t", T + 900, max).is_ok());
        assert!(check_skew(T, b"t", T - 900, max).is_ok());
        let err = check_skew(T, b"t", T + 901, max).unwrap_err();
        assert_eq!(err.code(), "RequestTimeTooSkewed");
        assert_eq!(
            err.extra_fields()[1],
            ("ServerTime", "2024-01-02T03:19:06.000Z".to_owned())
        );
    }

    #[test]
    fn unix_seconds_handles_times_before_the_epoch() {
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_secs(5)), 5);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), -5);
    }
}
