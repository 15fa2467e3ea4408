//! A command-line front end to the format, used by the Python interoperability tests.
//!
//! ```text
//! sse_tool encrypt <suite-id> <segment-size> <dek-hex> <context-hex> <plaintext-file> <blob-file>
//!     writes the blob, prints the metadata record in hex
//! sse_tool decrypt <dek-hex> <context-hex> <record-hex> <blob-file> <plaintext-file> [<start> <end>]
//!     exit status 3 when the ciphertext or record fails authentication
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use cang_sse::{DataKey, ObjectCipherParams, RangeDecryptor, StreamEncryptor, Suite};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("encrypt") if args.len() == 7 => encrypt(&args[1..]),
        Some("decrypt") if args.len() == 6 || args.len() == 8 => decrypt(&args[1..]),
        _ => Err(Failure::Usage),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage) => {
            eprintln!("usage: see the header of crates/sse/examples/sse_tool.rs");
            ExitCode::from(2)
        }
        Err(Failure::Integrity(e)) => {
            eprintln!("integrity failure: {e}");
            ExitCode::from(3)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage,
    Integrity(cang_sse::SseError),
    Other(String),
}

impl From<cang_sse::SseError> for Failure {
    fn from(e: cang_sse::SseError) -> Self {
        if e.is_integrity_failure() {
            Self::Integrity(e)
        } else {
            Self::Other(e.to_string())
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Other(e.to_string())
    }
}

fn unhex(s: &str) -> Result<Vec<u8>, Failure> {
    hex::decode(s).map_err(|e| Failure::Other(format!("bad hex: {e}")))
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, Failure> {
    s.parse().map_err(|_| Failure::Other(format!("bad number {s:?}")))
}

fn encrypt(args: &[String]) -> Result<(), Failure> {
    let suite = Suite::from_id(number(&args[0])?).ok_or(Failure::Other("unknown suite".into()))?;
    let dek = DataKey::from_slice(&unhex(&args[2])?)?;
    let mut enc = StreamEncryptor::new(&dek, suite, number(&args[1])?, &unhex(&args[3])?)?;
    let mut input = std::fs::File::open(&args[4])?;
    let mut output = std::fs::File::create(&args[5])?;
    let mut buf = vec![0u8; 1 << 16];
    let mut sealed = Vec::new();
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        enc.push(&buf[..n], &mut sealed)?;
        output.write_all(&sealed)?;
        sealed.clear();
    }
    let params = enc.finish(&mut sealed)?;
    output.write_all(&sealed)?;
    writeln!(std::io::stdout(), "{}", hex::encode(params.encode()))?;
    Ok(())
}

fn decrypt(args: &[String]) -> Result<(), Failure> {
    let dek = DataKey::from_slice(&unhex(&args[0])?)?;
    let context = unhex(&args[1])?;
    let params = ObjectCipherParams::decode(&unhex(&args[2])?)?;
    let blob = std::fs::read(&args[3])?;
    let whole = args.len() == 5;
    let range = if whole {
        params.whole()
    } else {
        params.range(number(&args[5])?, number(&args[6])?)?
    };
    if whole && blob.len() as u64 != params.ciphertext_len() {
        let received = blob.len() as u64;
        if received > params.ciphertext_len() {
            return Err(cang_sse::SseError::TrailingCiphertext.into());
        }
        return Err(cang_sse::SseError::Truncated {
            expected: params.ciphertext_len(),
            received,
        }
        .into());
    }
    let from = (range.ciphertext_offset as usize).min(blob.len());
    let to = (from + range.ciphertext_len as usize).min(blob.len());
    let mut dec = RangeDecryptor::new(&dek, &params, range, &context)?;
    let mut plain = Vec::new();
    // Decrypt everything before writing anything, so a failed tag never leaves plaintext behind.
    for chunk in blob[from..to].chunks(100_000) {
        dec.push(chunk, &mut plain)?;
    }
    dec.finish()?;
    std::fs::write(&args[4], plain)?;
    Ok(())
}
