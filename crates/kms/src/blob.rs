//! The ciphertext blob: self-describing bytes that name the key and version that wrapped them, so
//! `Decrypt` needs only the blob and the encryption context.
//!
//! Layout: `format (1) ‖ len ‖ key id ‖ len ‖ key version id ‖ context check (8) ‖ nonce (12) ‖ AEAD`.
//! The AEAD's associated data is every byte before the nonce followed by the canonical encryption
//! context. The context check (first 8 bytes of the context's SHA-256) only lets a wrong context be
//! reported as such; authenticity rests on the AAD.

use cang_kms_api::EncryptionContext;

use crate::cipher::NONCE_LEN;

/// Current blob format.
pub(crate) const FORMAT_V1: u8 = 1;
const CONTEXT_CHECK_LEN: usize = 8;
const TAG_LEN: usize = 16;

/// A parsed blob, borrowing from the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Blob<'a> {
    pub key_id: &'a str,
    pub version_id: &'a str,
    pub context_check: [u8; CONTEXT_CHECK_LEN],
    pub nonce: [u8; NONCE_LEN],
    /// Bytes covered as associated data (the header), before the context is appended.
    pub header: &'a [u8],
    pub ciphertext: &'a [u8],
}

/// The blob is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MalformedBlob;

pub(crate) fn context_check(ctx: &EncryptionContext) -> [u8; CONTEXT_CHECK_LEN] {
    let digest = ctx.digest();
    let mut out = [0u8; CONTEXT_CHECK_LEN];
    out.copy_from_slice(&digest[..CONTEXT_CHECK_LEN]);
    out
}

/// The header (the first part of the AAD) for a new blob.
pub(crate) fn header(
    key_id: &str,
    version_id: &str,
    ctx: &EncryptionContext,
) -> Result<Vec<u8>, MalformedBlob> {
    let key_len = u8::try_from(key_id.len()).map_err(|_| MalformedBlob)?;
    let version_len = u8::try_from(version_id.len()).map_err(|_| MalformedBlob)?;
    let mut out = Vec::with_capacity(3 + key_id.len() + version_id.len() + CONTEXT_CHECK_LEN);
    out.push(FORMAT_V1);
    out.push(key_len);
    out.extend_from_slice(key_id.as_bytes());
    out.push(version_len);
    out.extend_from_slice(version_id.as_bytes());
    out.extend_from_slice(&context_check(ctx));
    Ok(out)
}

/// The associated data: header ‖ canonical context.
pub(crate) fn aad(header: &[u8], ctx: &EncryptionContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&ctx.canonical_bytes());
    aad
}

/// Assembles a blob.
pub(crate) fn assemble(header: &[u8], nonce: &[u8; NONCE_LEN], ciphertext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + NONCE_LEN + ciphertext.len());
    out.extend_from_slice(header);
    out.extend_from_slice(nonce);
    out.extend_from_slice(ciphertext);
    out
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], MalformedBlob> {
    if input.len() < n {
        return Err(MalformedBlob);
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_str<'a>(input: &mut &'a [u8]) -> Result<&'a str, MalformedBlob> {
    let len = take(input, 1)?[0] as usize;
    let s = std::str::from_utf8(take(input, len)?).map_err(|_| MalformedBlob)?;
    if s.is_empty() { Err(MalformedBlob) } else { Ok(s) }
}

/// Parses a blob without authenticating it.
pub(crate) fn parse(bytes: &[u8]) -> Result<Blob<'_>, MalformedBlob> {
    let mut rest = bytes;
    if take(&mut rest, 1)? != [FORMAT_V1] {
        return Err(MalformedBlob);
    }
    let key_id = take_str(&mut rest)?;
    let version_id = take_str(&mut rest)?;
    let mut context_check = [0u8; CONTEXT_CHECK_LEN];
    context_check.copy_from_slice(take(&mut rest, CONTEXT_CHECK_LEN)?);
    let header = &bytes[..bytes.len() - rest.len()];
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(take(&mut rest, NONCE_LEN)?);
    if rest.len() < TAG_LEN {
        return Err(MalformedBlob);
    }
    Ok(Blob {
        key_id,
        version_id,
        context_check,
        nonce,
        header,
        ciphertext: rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_as_documented() -> Result<(), MalformedBlob> {
        let ctx = EncryptionContext::from([("bucket", "b")]);
        let h = header("k1", "v9", &ctx)?;
        let blob = assemble(&h, &[5; 12], &[0xAA; 48]);
        assert_eq!(&blob[..7], &[1, 2, b'k', b'1', 2, b'v', b'9']);
        let parsed = parse(&blob)?;
        assert_eq!((parsed.key_id, parsed.version_id), ("k1", "v9"));
        assert_eq!(parsed.context_check, context_check(&ctx));
        assert_eq!(parsed.header, &h[..]);
        assert_eq!(parsed.nonce, [5; 12]);
        assert_eq!(parsed.ciphertext.len(), 48);
        Ok(())
    }

    #[test]
    fn the_public_key_id_reader_agrees_with_the_parser() -> Result<(), MalformedBlob> {
        let blob = assemble(
            &header("k-1", "v", &EncryptionContext::default())?,
            &[0; 12],
            &[0; 16],
        );
        assert_eq!(
            crate::ciphertext_key_id(&blob).map(|k| k.to_string()),
            Some("k-1".to_owned())
        );
        assert_eq!(crate::ciphertext_key_id(&blob[..blob.len() - 1]), None);
        assert_eq!(crate::ciphertext_key_id(b"not a blob at all"), None);
        Ok(())
    }

    #[test]
    fn truncations_and_bad_versions_are_rejected() -> Result<(), MalformedBlob> {
        let h = header("key", "ver", &EncryptionContext::default())?;
        let blob = assemble(&h, &[0; 12], &[0; 16]);
        for n in 0..blob.len() {
            assert_eq!(parse(&blob[..n]), Err(MalformedBlob), "prefix {n}");
        }
        let mut other = blob.clone();
        other[0] = 2;
        assert_eq!(parse(&other), Err(MalformedBlob));
        Ok(())
    }
}
