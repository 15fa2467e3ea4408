//! The data path below the operations: how object bytes are sealed on the way in and opened on the way out.
//! Operations call down into it; it calls down into the key handling (`encryption`, `keys`) and the service
//! clients, never back up.
//!
//! | module | job |
//! |---|---|
//! | `write` | one sealing path for every write: the object's key, MD5 + CRC-64 + encryption, the meta stream |
//! | `read` | one opening path for every read: key recovery, a consistent ciphertext snapshot, decryption |
//! | `seal`, `open` | the per-chunk work of each direction (segments, digests, read plans) |
//! | `extent` | the stored per-extent format record |
//! | `pool` | the fixed CPU pool the bulk work runs on |

pub(crate) mod extent;
pub(crate) mod open;
pub(crate) mod pool;
pub(crate) mod read;
pub(crate) mod seal;
pub(crate) mod write;
