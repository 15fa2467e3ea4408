//! Errors of TLS setup and of caller identification.

use std::path::PathBuf;

/// Failure to load, build or generate TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A PEM file did not hold what it should (a certificate or a private key).
    #[error("{path} does not contain a PEM {expected}")]
    NotPem {
        /// The offending file.
        path: PathBuf,
        /// What was expected in it.
        expected: &'static str,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// tonic rejected the TLS configuration or the endpoint address.
    #[error("transport configuration rejected: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// An endpoint address was not a valid `https://host:port` URI.
    #[error("invalid endpoint {0:?}: expected host:port or https://host:port")]
    InvalidEndpoint(String),
}

/// Why a caller could not be identified from its certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The connection carried no client certificate (or was not TLS).
    #[error("no client certificate")]
    NoPeerCertificate,
    /// The client certificate could not be parsed.
    #[error("malformed client certificate")]
    MalformedCertificate,
    /// The certificate names no identity Cang knows.
    #[error("unknown client identity")]
    UnknownIdentity,
    /// The identity is known but not allowed to call this service.
    #[error("identity {0} may not call this service")]
    NotAllowed(crate::ServiceIdentity),
}
