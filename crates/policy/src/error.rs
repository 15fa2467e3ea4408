//! The error returned when a policy document is rejected.

/// Why a policy document was rejected. Every variant names the place in the document it refers to,
/// so an administrator can fix the document from the message alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is longer than the configured bound (RAM allows 6144 characters for a custom
    /// policy; see [`MAX_POLICY_DOCUMENT_CHARS`](crate::MAX_POLICY_DOCUMENT_CHARS)).
    #[error("policy document is longer than {limit} characters")]
    TooLarge {
        /// The bound that was exceeded, in characters.
        limit: usize,
    },
    /// The document is not syntactically valid JSON. The message carries serde_json's line and column.
    #[error("policy document is not valid JSON: {0}")]
    Json(String),
    /// The document is valid JSON but not a valid policy: `path` locates the offending element, e.g.
    /// `Statement[2].Effect`, and `reason` says what is wrong with it.
    #[error("{path}: {reason}")]
    Invalid {
        /// Where in the document, in `Field[index].Field` notation.
        path: String,
        /// What is wrong, quoting the offending value (truncated when long).
        reason: String,
    },
}

impl PolicyError {
    /// The location of the error inside the document, when it has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            PolicyError::Invalid { path, .. } => Some(path),
            PolicyError::TooLarge { .. } | PolicyError::Json(_) => None,
        }
    }
}
