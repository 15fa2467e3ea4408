//! AES-256-GCM for segments, on ring's implementation (VAES and VPCLMULQDQ where the CPU has them, AES-NI and
//! PCLMULQDQ otherwise: about three times the `aes-gcm` crate's rate on this project's machines), with the key
//! schedule wiped when the key is dropped, which ring does not do by itself.
//!
//! The wipe is the reason for this module's `unsafe`: the key lives in a boxed `MaybeUninit`, is dropped in
//! place, and its memory is then zeroed before the box is freed.

use std::mem::MaybeUninit;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

use crate::params::TAG_LEN;

/// Authentication failed, or the key or buffer had the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failed;

/// An AES-256-GCM key, wiped on drop; never printed.
pub(crate) struct AesKey(Box<MaybeUninit<LessSafeKey>>);

impl AesKey {
    /// A key from 32 bytes.
    pub(crate) fn new(key: &[u8]) -> Result<Self, Failed> {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| Failed)?);
        Ok(Self(Box::new(MaybeUninit::new(key))))
    }

    fn key(&self) -> &LessSafeKey {
        // SAFETY: the value is initialised in `new` and only dropped in `Drop`.
        unsafe { self.0.assume_init_ref() }
    }

    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal_in_place(&self, nonce: [u8; 12], buf: &mut [u8]) -> Result<[u8; TAG_LEN], Failed> {
        let tag = self
            .key()
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), buf)
            .map_err(|_| Failed)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Verifies and decrypts `buf` in place. On failure `buf` is zeroed: ring decrypts before it compares the
    /// tag, so the buffer would otherwise hold unauthenticated plaintext.
    pub(crate) fn open_in_place(
        &self,
        nonce: [u8; 12],
        buf: &mut [u8],
        tag: [u8; TAG_LEN],
    ) -> Result<(), Failed> {
        let opened = self.key().open_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            Tag::from(tag),
            buf,
            0..,
        );
        if opened.is_err() {
            buf.fill(0);
            return Err(Failed);
        }
        Ok(())
    }
}

impl Drop for AesKey {
    fn drop(&mut self) {
        let slot: *mut MaybeUninit<LessSafeKey> = &mut *self.0;
        // SAFETY: the value was initialised in `new` and is dropped exactly once, here. Afterwards the slot is
        // a `MaybeUninit` with no owned data behind it (ring's key holds only inline arrays and a `&'static`),
        // for which all-zero bytes are a valid value, so `zeroize_flat_type`'s conditions hold.
        unsafe {
            (*slot).assume_init_drop();
            zeroize::zeroize_flat_type(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use aes_gcm::aead::array::Array;
    use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// ring and the `aes-gcm` crate compute the same function: the stored format does not depend on which.
        #[test]
        fn ring_equals_the_aes_gcm_crate(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            plain in prop::collection::vec(any::<u8>(), 0..3000),
        ) {
            let ours = AesKey::new(&key).unwrap();
            let theirs = Aes256Gcm::new(&key.into());
            let mut a = plain.clone();
            let mut b = plain.clone();
            let tag_a = ours.seal_in_place(nonce, &mut a).unwrap();
            let tag_b = theirs.encrypt_inout_detached(&Array::from(nonce), &[], b.as_mut_slice().into()).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(tag_a.as_slice(), tag_b.as_slice());
            ours.open_in_place(nonce, &mut a, tag_a).unwrap();
            prop_assert_eq!(&a, &plain);
        }
    }

    #[test]
    fn a_failed_open_leaves_no_plaintext() {
        let key = AesKey::new(&[3; 32]).unwrap();
        let mut buf = b"attack at dawn, bring snacks".to_vec();
        let mut tag = key.seal_in_place([1; 12], &mut buf).unwrap();
        tag[0] ^= 1;
        assert_eq!(key.open_in_place([1; 12], &mut buf, tag), Err(Failed));
        assert!(buf.iter().all(|b| *b == 0));
        assert!(AesKey::new(&[0; 16]).is_err());
    }
}
