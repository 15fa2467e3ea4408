//! The `aws-chunked` body framing, decoded incrementally: `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`
//! per chunk, a zero-size last chunk, then either `\r\n` or trailer lines (`name:value\r\n`, a signed
//! trailer ending with `x-amz-trailer-signature:<sig>`) and `\r\n`. With a signature chain, a chunk's bytes
//! are released only once its signature checks, so nothing unverified ever reaches a store.

use crate::SigError;
use crate::chunked::ChunkChain;

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Largest chunk accepted (SDKs send 64 KiB; S3 allows up to 16 MiB per chunk here).
pub const MAX_CHUNK: usize = 16 << 20;
/// Most trailer lines accepted.
const MAX_TRAILERS: usize = 16;

/// Trailer fields (lower-case name, value) in the order sent.
pub type Trailers = Vec<(String, String)>;

/// Why a chunked body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The framing is broken; the message says where.
    #[error("aws-chunked body: {0}")]
    Framing(&'static str),
    /// A chunk or trailer signature is wrong.
    #[error("aws-chunked body: {0}")]
    Signature(SigError),
    /// The body ended before its last chunk.
    #[error("aws-chunked body ended early")]
    Truncated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data,
    DataEnd,
    Trailer,
    Done,
}

/// An incremental `aws-chunked` decoder.
#[derive(Debug)]
pub struct Decoder {
    chain: Option<ChunkChain>,
    trailer: bool,
    state: State,
    line: Vec<u8>,
    chunk: Vec<u8>,
    remaining: usize,
    signature: Option<String>,
    trailers: Trailers,
    trailer_text: Vec<u8>,
    decoded: u64,
}

impl Decoder {
    /// A decoder checking each chunk against `chain` (`None`: unsigned chunks), expecting trailer lines
    /// after the last chunk when `trailer` is set.
    pub fn new(chain: Option<ChunkChain>, trailer: bool) -> Self {
        Self {
            chain,
            trailer,
            state: State::Header,
            line: Vec::new(),
            chunk: Vec::new(),
            remaining: 0,
            signature: None,
            trailers: Vec::new(),
            trailer_text: Vec::new(),
            decoded: 0,
        }
    }

    /// Decodes `input`, appending released payload bytes to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer | State::DataEnd => {
                    let (consumed, line) = self.take_line(input)?;
                    input = &input[consumed..];
                    if let Some(line) = line {
                        self.on_line(&line, out)?;
                    }
                }
                State::Data => {
                    let n = self.remaining.min(input.len());
                    self.chunk.extend_from_slice(&input[..n]);
                    self.remaining -= n;
                    input = &input[n..];
                    if self.remaining == 0 {
                        self.state = State::DataEnd;
                    }
                }
                State::Done => return Err(ChunkError::Framing("bytes after the end of the body")),
            }
        }
        Ok(())
    }

    /// The trailer fields, once the whole body was decoded; an unfinished body is [`ChunkError::Truncated`].
    pub fn finish(self) -> Result<(Trailers, u64), ChunkError> {
        if self.state != State::Done {
            return Err(ChunkError::Truncated);
        }
        Ok((self.trailers, self.decoded))
    }

    /// Takes bytes up to and including `\r\n`: how many were consumed, and the line once complete.
    fn take_line(&mut self, input: &[u8]) -> Result<(usize, Option<Vec<u8>>), ChunkError> {
        let end = input.iter().position(|&b| b == b'\n');
        let take = end.map_or(input.len(), |i| i + 1);
        if self.line.len() + take > MAX_LINE {
            return Err(ChunkError::Framing("a header or trailer line is too long"));
        }
        self.line.extend_from_slice(&input[..take]);
        if end.is_none() {
            return Ok((take, None));
        }
        let mut line = std::mem::take(&mut self.line);
        if !line.ends_with(b"\r\n") {
            return Err(ChunkError::Framing("a line does not end in CRLF"));
        }
        line.truncate(line.len() - 2);
        Ok((take, Some(line)))
    }

    fn on_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        match self.state {
            State::Header => self.on_header(line, out),
            State::DataEnd => {
                if !line.is_empty() {
                    return Err(ChunkError::Framing("chunk data runs past its size"));
                }
                self.release(out)?;
                self.state = State::Header;
                Ok(())
            }
            State::Trailer => self.on_trailer(line),
            State::Data | State::Done => Err(ChunkError::Framing("unexpected line")),
        }
    }

    fn on_header(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        let text =
            std::str::from_utf8(line).map_err(|_| ChunkError::Framing("a chunk header is not text"))?;
        let (size, extension) = text.split_once(';').map_or((text, None), |(s, e)| (s, Some(e)));
        if size.is_empty() || size.len() > 8 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ChunkError::Framing("a chunk size is not hex"));
        }
        let size =
            usize::from_str_radix(size, 16).map_err(|_| ChunkError::Framing("a chunk size is not hex"))?;
        if size > MAX_CHUNK {
            return Err(ChunkError::Framing("a chunk is larger than 16 MiB"));
        }
        self.signature = match (extension, self.chain.is_some()) {
            (Some(ext), true) => Some(
                ext.strip_prefix("chunk-signature=")
                    .ok_or(ChunkError::Framing("a chunk header has no chunk-signature"))?
                    .to_owned(),
            ),
            (None, true) => return Err(ChunkError::Framing("a chunk header has no chunk-signature")),
            (_, false) => None,
        };
        self.remaining = size;
        if size > 0 {
            self.state = State::Data;
            return Ok(());
        }
        // The last chunk: its (empty) data is signed too. Trailer lines follow, if announced; either way
        // an empty line ends the body.
        self.release(out)?;
        self.state = State::Trailer;
        Ok(())
    }

    /// Checks the chunk's signature, then releases its bytes.
    fn release(&mut self, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        if let (Some(chain), Some(signature)) = (self.chain.as_mut(), self.signature.take()) {
            chain
                .chunk(&self.chunk, &signature)
                .map_err(ChunkError::Signature)?;
        }
        self.decoded += self.chunk.len() as u64;
        out.append(&mut self.chunk);
        Ok(())
    }

    fn on_trailer(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        if line.is_empty() {
            if let Some(chain) = self.chain.as_mut()
                && self.trailer
            {
                let signature = self
                    .trailers
                    .iter()
                    .position(|(n, _)| n == "x-amz-trailer-signature")
                    .map(|i| self.trailers.remove(i).1)
                    .ok_or(ChunkError::Framing(
                        "a signed trailer has no x-amz-trailer-signature",
                    ))?;
                chain
                    .trailer(&self.trailer_text, &signature)
                    .map_err(ChunkError::Signature)?;
            }
            self.state = State::Done;
            return Ok(());
        }
        if !self.trailer {
            return Err(ChunkError::Framing("trailer lines in a body that announced none"));
        }
        if self.trailers.len() >= MAX_TRAILERS {
            return Err(ChunkError::Framing("too many trailer lines"));
        }
        let text = std::str::from_utf8(line).map_err(|_| ChunkError::Framing("a trailer is not text"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or(ChunkError::Framing("a trailer line is not name:value"))?;
        let name = name.trim().to_ascii_lowercase();
        if name != "x-amz-trailer-signature" {
            self.trailer_text
                .extend_from_slice(format!("{name}:{}\n", value.trim()).as_bytes());
        }
        self.trailers.push((name, value.trim().to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unsigned_body(data: &[u8], sizes: &[usize], trailer: Option<&str>) -> Vec<u8> {
        let mut body = Vec::new();
        let mut rest = data;
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = size.clamp(1, rest.len());
            body.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            body.extend_from_slice(&rest[..n]);
            body.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        body.extend_from_slice(b"0\r\n");
        if let Some(line) = trailer {
            body.extend_from_slice(line.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"\r\n");
        body
    }

    fn decode(body: &[u8], split: usize, trailer: bool) -> Result<(Vec<u8>, Trailers), ChunkError> {
        let mut decoder = Decoder::new(None, trailer);
        let mut out = Vec::new();
        for piece in body.chunks(split.max(1)) {
            decoder.feed(piece, &mut out)?;
        }
        let (trailers, decoded) = decoder.finish()?;
        assert_eq!(decoded, out.len() as u64);
        Ok((out, trailers))
    }

    #[test]
    fn an_unsigned_trailer_carries_the_checksum() {
        let body = unsigned_body(b"hello world", &[5], Some("x-amz-checksum-crc32:DUoRhQ=="));
        let (out, trailers) = decode(&body, 3, true).unwrap_or_default();
        assert_eq!(out, b"hello world");
        assert_eq!(
            trailers,
            vec![("x-amz-checksum-crc32".to_owned(), "DUoRhQ==".to_owned())]
        );
    }

    #[test]
    fn broken_framing_is_refused() {
        let good = unsigned_body(b"abcdef", &[3], None);
        assert!(decode(&good, 2, false).is_ok());
        assert_eq!(
            decode(&good[..good.len() - 2], 2, false).err(),
            Some(ChunkError::Truncated)
        );
        assert!(decode(b"zz\r\nab\r\n0\r\n\r\n", 4, false).is_err());
        assert!(decode(b"2\r\nabc\r\n0\r\n\r\n", 4, false).is_err());
        assert!(decode(b"2\nab\r\n0\r\n\r\n", 4, false).is_err());
        let mut extra = good.clone();
        extra.extend_from_slice(b"x");
        assert!(decode(&extra, 4, false).is_err());
        assert!(decode(&unsigned_body(b"ab", &[2], Some("x:1")), 4, false).is_err());
        assert!(decode(b"2000000\r\n", 4, false).is_err());
    }

    proptest! {
        #[test]
        fn any_split_of_any_framing_decodes_to_the_data(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            sizes in proptest::collection::vec(1usize..300, 1..6),
            split in 1usize..400,
        ) {
            let body = unsigned_body(&data, &sizes, None);
            let (out, trailers) = decode(&body, split, false).unwrap_or_default();
            prop_assert_eq!(out, data);
            prop_assert!(trailers.is_empty());
        }

        #[test]
        fn no_input_panics(body in proptest::collection::vec(any::<u8>(), 0..600), split in 1usize..64) {
            let _ = decode(&body, split, true);
            let _ = decode(&body, split, false);
        }
    }
}
