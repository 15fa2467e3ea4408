//! Bring-your-own-key files: the wrapping public key as PEM, import token and encrypted material as
//! base64 text (the encodings Alibaba KMS uses), and RSAES-OAEP-SHA256 wrapping of key material.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::DecodePublicKey;
use zeroize::Zeroizing;

const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// DER bytes as a PEM block with 64-column lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// A public key file's DER: PEM (`BEGIN PUBLIC KEY`) or raw DER.
pub fn public_key_der(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    if !text.trim_start().starts_with("-----BEGIN ") {
        return Ok(bytes.to_vec());
    }
    let begin = format!("-----BEGIN {PUBLIC_KEY_LABEL}-----");
    let end = format!("-----END {PUBLIC_KEY_LABEL}-----");
    let inner = text
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(inner, _)| inner)
        .context("expected a PEM block labelled PUBLIC KEY")?;
    let compact: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).context("PEM body is not base64")
}

/// Encrypts `material` to the RSA public key (DER SubjectPublicKeyInfo) with RSAES-OAEP-SHA256.
pub fn wrap_material(public_key_der: &[u8], material: &[u8]) -> anyhow::Result<Vec<u8>> {
    if !matches!(material.len(), 16 | 32) {
        bail!(
            "key material must be 32 bytes (Aliyun_AES_256) or 16 bytes (Aliyun_SM4), got {}",
            material.len()
        );
    }
    let public = rsa::PublicKey::from_public_key_der(public_key_der).context("not an RSA public key")?;
    public
        .encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), material)
        .context("RSA-OAEP encryption failed")
}

/// Writes `bytes` as one base64 line.
pub fn write_base64(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, format!("{}\n", STANDARD.encode(bytes)))
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a base64 text file (whitespace ignored).
pub fn read_base64(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact)
        .with_context(|| format!("{} is not base64", path.display()))
}

/// Reads raw key material.
pub fn read_material(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    Ok(Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::EncodePublicKey;

    #[test]
    fn wrapped_material_opens_with_the_private_key_from_pem_or_der() -> anyhow::Result<()> {
        let private = rsa::PrivateKey::new(&mut rand::rng(), 2048)?;
        let der = private.to_public_key().to_public_key_der()?.as_bytes().to_vec();
        let pem = pem_encode(PUBLIC_KEY_LABEL, &der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(public_key_der(pem.as_bytes())?, der);
        assert_eq!(public_key_der(&der)?, der);
        let material = [0x3Cu8; 32];
        let wrapped = wrap_material(&public_key_der(pem.as_bytes())?, &material)?;
        assert_eq!(wrapped.len(), 256);
        let opened = private.decrypt(rsa::Oaep::<sha2::Sha256>::new(), &wrapped)?;
        assert_eq!(opened, material);
        Ok(())
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(wrap_material(b"not der", &[0u8; 32]).is_err());
        assert!(wrap_material(b"", &[0u8; 31]).is_err());
        assert!(public_key_der(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n").is_err());
    }

    #[test]
    fn base64_files_round_trip() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.b64");
        write_base64(&path, b"\x00\x01token")?;
        assert_eq!(read_base64(&path)?, b"\x00\x01token");
        std::fs::write(&path, "not base64!")?;
        assert!(read_base64(&path).is_err());
        Ok(())
    }
}
