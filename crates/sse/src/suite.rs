//! The AEAD suites an object can be sealed with.

/// An AEAD suite, identified on disk by one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-256-GCM: 32-byte subkey, 12-byte nonce, 16-byte tag. Suite id 1.
    Aes256Gcm,
    /// SM4-GCM (OSS's `SM4` option): 16-byte subkey, 12-byte nonce, 16-byte tag. Suite id 2.
    Sm4Gcm,
}

impl Suite {
    /// Every suite, in id order.
    pub const ALL: [Suite; 2] = [Suite::Aes256Gcm, Suite::Sm4Gcm];

    /// The suite's one-byte identifier, stored in the object metadata and mixed into key derivation.
    pub const fn id(self) -> u8 {
        match self {
            Self::Aes256Gcm => 1,
            Self::Sm4Gcm => 2,
        }
    }

    /// The suite with the given identifier.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Aes256Gcm),
            2 => Some(Self::Sm4Gcm),
            _ => None,
        }
    }

    /// Length in bytes of the per-object subkey this suite's cipher takes.
    pub const fn subkey_len(self) -> usize {
        match self {
            Self::Aes256Gcm => 32,
            Self::Sm4Gcm => 16,
        }
    }

    /// The name OSS uses for this algorithm in `x-oss-server-side-encryption` /
    /// `x-oss-server-side-data-encryption`.
    pub const fn oss_name(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "AES256",
            Self::Sm4Gcm => "SM4",
        }
    }
}
