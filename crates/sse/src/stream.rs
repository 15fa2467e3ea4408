//! Streaming encryption of a whole object and streaming decryption of any plaintext range of it.
//!
//! Both sides accept input in chunks of any size and hold at most one segment in memory.

use crate::key::{DataKey, SegmentKey};
use crate::params::{
    NONCE_PREFIX_LEN, ObjectCipherParams, SALT_LEN, SegmentRange, TAG_LEN, validate_segment_size,
};
use crate::{SseError, Suite};

/// Encrypts an object segment by segment as its body arrives.
///
/// A full segment is held back until more input arrives or [`StreamEncryptor::finish`] is called, because
/// the final segment is sealed differently from the others.
#[derive(Debug)]
pub struct StreamEncryptor {
    key: SegmentKey,
    suite: Suite,
    segment_size: usize,
    salt: [u8; SALT_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    pending: Vec<u8>,
    next_segment: u64,
    plaintext_len: u64,
}

impl StreamEncryptor {
    /// Starts an object with a fresh random salt and nonce prefix.
    pub fn new(dek: &DataKey, suite: Suite, segment_size: u32, context: &[u8]) -> Result<Self, SseError> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        getrandom::fill(&mut salt).map_err(|_| SseError::Random)?;
        getrandom::fill(&mut nonce_prefix).map_err(|_| SseError::Random)?;
        Self::with_nonce_material(dek, suite, segment_size, salt, nonce_prefix, context)
    }

    /// Starts an object with caller-chosen salt and nonce prefix. Only for known-answer tests: reusing them
    /// under one data key breaks confidentiality.
    pub fn with_nonce_material(
        dek: &DataKey,
        suite: Suite,
        segment_size: u32,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
        context: &[u8],
    ) -> Result<Self, SseError> {
        validate_segment_size(segment_size)?;
        let key = SegmentKey::derive(dek, suite, segment_size, &salt, &nonce_prefix, context)?;
        let segment_size = segment_size as usize;
        Ok(Self {
            key,
            suite,
            segment_size,
            salt,
            nonce_prefix,
            pending: Vec::with_capacity(segment_size),
            next_segment: 0,
            plaintext_len: 0,
        })
    }

    /// The parameters as they stand: final except for the plaintext length, which grows with every push.
    /// Their [`ObjectCipherParams::encode_header`] form is known before the first byte is sealed.
    pub fn params(&self) -> ObjectCipherParams {
        ObjectCipherParams {
            suite: self.suite,
            segment_size: self.segment_size as u32,
            salt: self.salt,
            nonce_prefix: self.nonce_prefix,
            plaintext_len: self.plaintext_len,
        }
    }

    /// Ciphertext bytes a `push` of `len` plaintext bytes may append at most.
    pub fn max_output(&self, len: usize) -> usize {
        let total = self.pending.len() + len;
        (total / self.segment_size + 1) * (self.segment_size + TAG_LEN)
    }

    /// Encrypts what `data` completes and appends the sealed segments (ciphertext ‖ tag each) to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), SseError> {
        self.plaintext_len += data.len() as u64;
        while !data.is_empty() {
            if self.pending.len() == self.segment_size {
                // More input exists, so the held-back segment is not the last one.
                let pending = std::mem::take(&mut self.pending);
                self.seal(&pending, false, out)?;
                self.pending = pending;
                self.pending.clear();
            }
            if self.pending.is_empty() && data.len() > self.segment_size {
                // Fast path: seal straight from the input, no staging copy.
                let (segment, rest) = data.split_at(self.segment_size);
                self.seal(segment, false, out)?;
                data = rest;
                continue;
            }
            let take = (self.segment_size - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// Seals the final segment into `out` and returns the parameters to store with the object.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<ObjectCipherParams, SseError> {
        let pending = std::mem::take(&mut self.pending);
        self.seal(&pending, true, out)?;
        Ok(self.params())
    }

    fn seal(&mut self, plaintext: &[u8], last: bool, out: &mut Vec<u8>) -> Result<(), SseError> {
        let start = out.len();
        out.resize(start + plaintext.len() + TAG_LEN, 0);
        self.key
            .seal_into(self.next_segment, last, plaintext, &mut out[start..])?;
        self.next_segment += 1;
        Ok(())
    }
}

/// Decrypts the ciphertext of a [`SegmentRange`] as it streams in and emits exactly the requested plaintext.
///
/// Feed it the bytes `ciphertext_offset .. ciphertext_offset + ciphertext_len` of the object's ciphertext, in
/// chunks of any size, then call [`RangeDecryptor::finish`]: a stream that ends early is an error.
#[derive(Debug)]
pub struct RangeDecryptor {
    key: SegmentKey,
    params: ObjectCipherParams,
    range: SegmentRange,
    segment: u64,
    staged: Vec<u8>,
    scratch: Vec<u8>,
    skip: u64,
    remaining: u64,
    received: u64,
}

impl RangeDecryptor {
    /// Prepares to decrypt `range` of the object described by `params`.
    pub fn new(
        dek: &DataKey,
        params: &ObjectCipherParams,
        range: SegmentRange,
        context: &[u8],
    ) -> Result<Self, SseError> {
        params.validate()?;
        let key = SegmentKey::derive(
            dek,
            params.suite,
            params.segment_size,
            &params.salt,
            &params.nonce_prefix,
            context,
        )?;
        let cap = params.segment_size as usize + TAG_LEN;
        Ok(Self {
            key,
            params: params.clone(),
            range,
            segment: range.first_segment,
            staged: Vec::with_capacity(cap),
            scratch: Vec::new(),
            skip: range.skip,
            remaining: range.len,
            received: 0,
        })
    }

    /// Consumes a chunk of ciphertext and appends the plaintext of every segment it completes to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), SseError> {
        self.received += data.len() as u64;
        if self.received > self.range.ciphertext_len {
            return Err(SseError::TrailingCiphertext);
        }
        // The plaintext is never longer than the ciphertext it comes from, staged bytes included: one
        // allocation, not a doubling copy when a staged segment completes at the chunk's start.
        out.reserve(self.staged.len() + data.len());
        while !data.is_empty() {
            let want = self.current_segment_len();
            if self.staged.is_empty() && data.len() >= want {
                let (segment, rest) = data.split_at(want);
                self.open(segment, out)?;
                data = rest;
                continue;
            }
            let take = (want - self.staged.len()).min(data.len());
            self.staged.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.staged.len() == want {
                let staged = std::mem::take(&mut self.staged);
                let result = self.open(&staged, out);
                self.staged = staged;
                self.staged.clear();
                result?;
            }
        }
        Ok(())
    }

    /// Checks that the whole range arrived.
    pub fn finish(self) -> Result<(), SseError> {
        if self.received != self.range.ciphertext_len || self.segment <= self.range.last_segment {
            return Err(SseError::Truncated {
                expected: self.range.ciphertext_len,
                received: self.received,
            });
        }
        Ok(())
    }

    fn current_segment_len(&self) -> usize {
        (self.params.segment_plaintext_len(self.segment) as usize) + TAG_LEN
    }

    fn open(&mut self, segment: &[u8], out: &mut Vec<u8>) -> Result<(), SseError> {
        let index = self.segment;
        let last = index == self.params.segment_count() - 1;
        let plain_len = segment.len() - TAG_LEN;
        let skip = self.skip as usize;
        let take = (plain_len - skip).min(self.remaining as usize);
        if skip == 0 && take == plain_len {
            let start = out.len();
            let (body, tag) = segment.split_at(plain_len);
            let tag: &[u8; TAG_LEN] = tag
                .try_into()
                .map_err(|_| SseError::SegmentAuthentication { segment: index })?;
            out.extend_from_slice(body);
            if let Err(e) = self.key.open_in_place(index, last, &mut out[start..], tag) {
                out.truncate(start);
                return Err(e);
            }
        } else {
            self.scratch.resize(plain_len, 0);
            self.key.open_into(index, last, segment, &mut self.scratch)?;
            out.extend_from_slice(&self.scratch[skip..skip + take]);
        }
        self.skip = 0;
        self.remaining -= take as u64;
        self.segment += 1;
        Ok(())
    }
}

/// Encrypts a whole in-memory body: convenience for small objects and tests.
pub fn encrypt_all(
    dek: &DataKey,
    suite: Suite,
    segment_size: u32,
    context: &[u8],
    plaintext: &[u8],
) -> Result<(ObjectCipherParams, Vec<u8>), SseError> {
    let mut enc = StreamEncryptor::new(dek, suite, segment_size, context)?;
    let mut out = Vec::with_capacity(enc.max_output(plaintext.len()));
    enc.push(plaintext, &mut out)?;
    let params = enc.finish(&mut out)?;
    Ok((params, out))
}

/// Decrypts plaintext bytes `start..end` from the object's whole ciphertext held in memory.
pub fn decrypt_range(
    dek: &DataKey,
    params: &ObjectCipherParams,
    context: &[u8],
    ciphertext: &[u8],
    start: u64,
    end: u64,
) -> Result<Vec<u8>, SseError> {
    let range = if start == 0 && end == params.plaintext_len {
        params.whole()
    } else {
        params.range(start, end)?
    };
    let from = usize::try_from(range.ciphertext_offset).map_err(|_| SseError::TooLarge)?;
    let to =
        usize::try_from(range.ciphertext_offset + range.ciphertext_len).map_err(|_| SseError::TooLarge)?;
    let slice = ciphertext
        .get(from..to.min(ciphertext.len()))
        .ok_or(SseError::Truncated {
            expected: range.ciphertext_len,
            received: 0,
        })?;
    let mut dec = RangeDecryptor::new(dek, params, range, context)?;
    let mut out = Vec::with_capacity(range.len as usize);
    dec.push(slice, &mut out)?;
    dec.finish()?;
    if to < ciphertext.len() && range.last_segment + 1 == params.segment_count() {
        return Err(SseError::TrailingCiphertext);
    }
    Ok(out)
}
