//! A bounded, namespace-ignoring element tree for request bodies: small enough to hold any valid OSS
//! request, strict about well-formedness, lenient about prologs, namespaces and whitespace (§1.4).

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::OssError;

/// The largest XML request body accepted, in bytes. A 1000-key multi-delete of maximal keys fits.
pub const MAX_XML_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The deepest element nesting accepted; OSS request schemas are at most four levels deep.
const MAX_DEPTH: usize = 8;

/// How many elements a document of a request schema may hold: its largest valid instance, with room to
/// spare. The byte bound alone would let a body of a million empty elements become a tree many times its
/// size; bounding breadth per schema keeps a parsed body within a few MiB.
pub(crate) fn element_budget(root: &str) -> usize {
    match root {
        // 10 000 parts × (Part, PartNumber, ETag) and the root.
        "CompleteMultipartUpload" => 30_016,
        // 1000 objects × (Object, Key, VersionId), Quiet and the root.
        "Delete" => 3_016,
        _ => 64,
    }
}

/// One element: local name, its own text (concatenated, unescaped) and child elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// All children named `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The single child named `name`; more than one is a schema violation.
    pub(crate) fn child(&self, name: &str) -> Result<Option<&Element>, OssError> {
        let mut found = self.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(OssError::malformed_xml(format!(
                "<{name}> appears more than once in <{}>",
                self.name
            )));
        }
        Ok(first)
    }

    /// The exact text of the single child `name`, if present.
    pub(crate) fn text_of(&self, name: &str) -> Result<Option<&str>, OssError> {
        Ok(self.child(name)?.map(|c| c.text.as_str()))
    }

    /// The trimmed text of the single child `name`, if present.
    pub(crate) fn trimmed_of(&self, name: &str) -> Result<Option<&str>, OssError> {
        Ok(self.text_of(name)?.map(str::trim))
    }

    /// The text of a required child.
    pub(crate) fn required(&self, name: &str) -> Result<&str, OssError> {
        self.trimmed_of(name)?
            .ok_or_else(|| OssError::malformed_xml(format!("<{}> is missing <{name}>", self.name)))
    }
}

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or(name).to_owned()
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// Parses `body` into its root element. Empty or oversized bodies, malformed XML, text outside the root or
/// more than one root are `400 MalformedXML`.
#[cfg(test)]
pub(crate) fn parse(body: &[u8]) -> Result<Element, OssError> {
    parse_bounded(body, usize::MAX)
}

/// [`parse`], refusing a document of more than `max_elements` elements.
fn parse_bounded(body: &[u8], max_elements: usize) -> Result<Element, OssError> {
    if body.len() > MAX_XML_BODY_BYTES {
        return Err(OssError::malformed_xml(format!(
            "the body exceeds {MAX_XML_BODY_BYTES} bytes"
        )));
    }
    let text = std::str::from_utf8(body).map_err(|_| OssError::malformed_xml("the body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let bad = |e: quick_xml::Error| OssError::malformed_xml(format!("not well-formed: {e}"));
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(bad)?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) {
            elements += 1;
            if elements > max_elements {
                return Err(OssError::malformed_xml(format!(
                    "the document holds more than {max_elements} elements"
                )));
            }
        }
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(OssError::malformed_xml("more than one root element"));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(OssError::malformed_xml("elements are nested too deeply"));
                }
                stack.push(Element {
                    name: local(start.name().as_ref()),
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let element = Element {
                    name: local(start.name().as_ref()),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| OssError::malformed_xml("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            // NUL is no XML character, raw or as `&#0;` (which the reference branch refuses too), so a value
            // read here can always be written back.
            Event::Text(t) if t.contains('\0') => {
                return Err(OssError::malformed_xml("XML cannot carry the character NUL"));
            }
            Event::CData(c) if c.contains('\0') => {
                return Err(OssError::malformed_xml("XML cannot carry the character NUL"));
            }
            Event::Text(t) => match stack.last_mut() {
                Some(current) => current.text.push_str(&t.xml10_content()),
                None if t.xml10_content().trim().is_empty() => {}
                None => return Err(OssError::malformed_xml("text outside the root element")),
            },
            Event::CData(c) => match stack.last_mut() {
                Some(current) => current.text.push_str(&c.xml10_content()),
                None => return Err(OssError::malformed_xml("CDATA outside the root element")),
            },
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => entity(&r.xml10_content()).ok_or_else(|| {
                        OssError::malformed_xml(format!("unknown entity &{};", r.xml10_content()))
                    })?,
                    Err(e) => return Err(OssError::malformed_xml(format!("bad character reference: {e}"))),
                };
                match stack.last_mut() {
                    Some(current) => current.text.push(resolved),
                    None => return Err(OssError::malformed_xml("reference outside the root element")),
                }
            }
            Event::DocType(_) => return Err(OssError::malformed_xml("DOCTYPE is not allowed")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(OssError::malformed_xml("the document ends inside an element"));
    }
    root.ok_or_else(|| OssError::malformed_xml("the body holds no element"))
}

/// Parses `body` and checks the root element's name.
pub(crate) fn parse_root(body: &[u8], expected: &str) -> Result<Element, OssError> {
    let root = parse_bounded(body, element_budget(expected))?;
    if root.name != expected {
        return Err(OssError::malformed_xml(format!(
            "the root element must be <{expected}>, not <{}>",
            root.name
        )));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_prolog_namespace_and_whitespace() {
        let body = "<?xml version='1.0' encoding='utf-8'?>\n<a:Root xmlns:a=\"urn:x\">\n  <Key>a &amp; b</Key>\n</a:Root>";
        let root = parse(body.as_bytes()).unwrap_or_default();
        assert_eq!(root.name, "Root");
        assert_eq!(root.text_of("Key").ok().flatten(), Some("a & b"));
    }

    #[test]
    fn character_references_including_control_characters() {
        let root = parse(b"<R><K>&#x1;&#2;&#xD;&lt;&#x4E2D;</K></R>").unwrap_or_default();
        assert_eq!(root.text_of("K").ok().flatten(), Some("\u{1}\u{2}\r<中"));
        let raw = parse("<R><K>a\u{1}b</K></R>".as_bytes()).unwrap_or_default();
        assert_eq!(raw.text_of("K").ok().flatten(), Some("a\u{1}b"));
    }

    #[test]
    fn nul_is_refused_raw_as_it_is_as_a_reference() {
        // Found by fuzzing (fuzz/seeds/xml/nul-in-etag.xml): a raw NUL was accepted, and the value could not
        // be written back as XML.
        for body in [
            &b"<R><K>a\0b</K></R>"[..],
            b"<R><K>&#0;</K></R>",
            b"<R><K><![CDATA[\0]]></K></R>",
        ] {
            assert!(parse(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn breadth_is_bounded_per_schema() {
        let objects = |n: usize| format!("<Delete>{}</Delete>", "<Object><Key>k</Key></Object>".repeat(n));
        assert!(
            parse_root(objects(1000).as_bytes(), "Delete").is_ok(),
            "the largest valid multi-delete"
        );
        assert!(parse_root(objects(1600).as_bytes(), "Delete").is_err());
        let empties = format!("<Delete>{}</Delete>", "<a/>".repeat(1_000_000));
        let err = parse_root(empties.as_bytes(), "Delete").unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
        let parts = |n: usize| {
            let part = "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>";
            format!(
                "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
                part.repeat(n)
            )
        };
        assert!(parse_root(parts(10_000).as_bytes(), "CompleteMultipartUpload").is_ok());
        assert!(parse_root(parts(10_010).as_bytes(), "CompleteMultipartUpload").is_err());
        let acl = format!(
            "<AccessControlPolicy>{}</AccessControlPolicy>",
            "<x/>".repeat(100)
        );
        assert!(parse_root(acl.as_bytes(), "AccessControlPolicy").is_err());
    }

    #[test]
    fn malformed_documents() {
        for bad in [
            "",
            "   ",
            "<R>",
            "<R></S>",
            "<R/><R/>",
            "text<R/>",
            "<R>&bogus;</R>",
            "<R>&#0;</R>",
            "<!DOCTYPE R [<!ENTITY x 'y'>]><R/>",
        ] {
            let code = parse(bad.as_bytes()).err().map(|e| e.code());
            assert_eq!(code, Some(crate::ErrorCode::MalformedXML), "{bad:?}");
        }
        let deep = "<a>".repeat(20) + &"</a>".repeat(20);
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(&vec![b' '; MAX_XML_BODY_BYTES + 1]).is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
