//! Mutual TLS for Cang's internal gRPC hops: PEM loading into tonic TLS configs, caller identity from the
//! peer certificate, a throwaway CA for laptops and tests, the socket/HTTP/2 tuning every service uses,
//! and the private modes (0700/0600) under which every service keeps its keys and stores.

mod error;
mod files;
mod generate;
mod identity;
mod private;
mod tuning;

pub mod transient;

pub use error::{IdentityError, TlsError};
pub use files::{HANDSHAKE_TIMEOUT, TlsFiles, install_crypto_provider};
pub use generate::{CertificateAuthority, IssuedCertificate, write_dev_pki};
pub use identity::{
    IdentityInterceptor, ServiceIdentity, identity_interceptor, identity_of_certificate, peer_identity,
};
pub use private::{
    PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, Privacy, PrivatePathError, ensure_private_dir, ensure_private_file,
};
pub use tuning::{
    INITIAL_CONNECTION_WINDOW_SIZE, INITIAL_STREAM_WINDOW_SIZE, MAX_FRAME_SIZE, endpoint, incoming,
    server_builder,
};
