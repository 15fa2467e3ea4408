//! A wrapper that lets a value be named in a span or log field without its contents ever being
//! formatted: logs, span attributes and error messages all see `[REDACTED]`.

use std::fmt;

/// The text every redacted value formats as.
pub const REDACTED: &str = "[REDACTED]";

/// Marks a field as secret. `Debug` and `Display` print [`REDACTED`] whatever `T` is, so
/// `tracing::info!(data_key = %Redacted(&dek))` records that a key was present, never the key.
/// The wrapped value is reachable only through [`Redacted::expose`].
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Redacted<T>(pub T);

impl<T> Redacted<T> {
    /// The wrapped value, for code that must use it (never for formatting).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let secret = Redacted("s3cr3t-key-bytes");
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(format!("{secret:#?}"), REDACTED);
        assert_eq!(*secret.expose(), "s3cr3t-key-bytes");
    }
}
