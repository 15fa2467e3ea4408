//! A small element tree for the OSS API's XML answers: local names, unescaped text, bounded depth and size.

use quick_xml::Reader;
use quick_xml::events::Event;

const MAX_DEPTH: usize = 16;
const MAX_ELEMENTS: usize = 100_000;

/// One element: local name, its own text and its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Own text, unescaped.
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// The document's root element; `None` for anything that is not one well-formed, bounded document.
pub fn parse(bytes: &[u8]) -> Option<Element> {
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return None;
                }
                let name = start.local_name().into_inner().to_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                count += 1;
                let name = start.local_name().into_inner().to_owned();
                let element = Element {
                    name,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Some(element),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().ok()? {
                    Some(c) => c,
                    None => match reference.xml10_content().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return None,
                    },
                };
                stack.last_mut()?.text.push(resolved);
            }
            Event::CData(data) => {
                stack.last_mut()?.text.push_str(&data.xml10_content());
            }
            Event::End(_) => {
                let done = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Some(done),
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_parse_into_trees() {
        let doc = parse(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>b</Name>\
              <Contents><Key>a&amp;&lt;b&#x4e2d;</Key></Contents><Contents><Key/></Contents></ListBucketResult>",
        );
        let doc = doc.unwrap_or_default();
        assert_eq!(doc.name, "ListBucketResult");
        assert_eq!(doc.text("Name"), Some("b"));
        let keys: Vec<_> = doc.all("Contents").map(|c| c.text("Key")).collect();
        assert_eq!(keys, vec![Some("a&<b中"), Some("")]);
    }

    #[test]
    fn broken_documents_are_none() {
        assert!(parse(b"").is_none());
        assert!(parse(b"<a><b></a>").is_none());
        assert!(parse(b"<a>").is_none());
        assert!(parse("<a>".repeat(40).as_bytes()).is_none());
    }

    proptest! {
        #[test]
        fn no_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }
    }
}
