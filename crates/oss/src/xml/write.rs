//! A small XML writer for OSS response bodies: plain element names, no namespaces, no attributes, and text
//! escaped so that every SDK parser reads back exactly the bytes that were written.

use std::fmt::Write as _;

/// The prolog every response body starts with (§3.2).
const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Builds one XML document element by element.
#[derive(Debug)]
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Starts a document with the standard prolog.
    pub(crate) fn new() -> Self {
        Self {
            out: String::from(PROLOG),
        }
    }

    /// Opens `<name>`.
    pub(crate) fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Closes `</name>`.
    pub(crate) fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Writes `<name>text</name>` with `text` escaped.
    pub(crate) fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name)
    }

    /// Writes `<name>text</name>` only when `text` is present.
    pub(crate) fn text_opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.text(name, text);
        }
        self
    }

    /// Writes a number or other `Display` value as the element text (never needs escaping).
    pub(crate) fn display(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        self.open(name);
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
        self.close(name)
    }

    /// Writes `true` / `false` in lower case, the only spelling oss2 accepts.
    pub(crate) fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.text(name, if value { "true" } else { "false" })
    }

    /// Returns the finished document.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Escapes `text` for use as XML character data.
///
/// `&`, `<` and `>` become entities; `"`/`'` need nothing outside attributes. Tab and line feed are written
/// as they are: XML parsers keep them in element text (attribute-value normalisation does not apply). A
/// carriage return is written as `&#xD;` because parsers normalise a literal one to a line feed, while a
/// character reference survives (expat, quick-xml's `xml10_content`, Go, Java). DEL is written as a
/// reference for readability.
///
/// Characters XML 1.0 forbids outright (other C0 controls, U+FFFE, U+FFFF) cannot be written in any form
/// that a strict parser accepts. The router refuses object keys and query values containing them, so no
/// listing or echoed parameter carries one; anything else that might (a key stored before that rule) is
/// written as a numeric reference, which lenient parsers (quick-xml, Go) read back and
/// `encoding-type=url` avoids altogether.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{7f}' | '\u{fffe}' | '\u{ffff}') => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Escapes `text` into a new string.
#[cfg(test)]
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&c\"d'"), "a&lt;b&gt;&amp;c\"d'");
        assert_eq!(escape("x\u{1}y\rz\tw\n"), "x&#x1;y&#xD;z\tw\n");
        assert_eq!(escape("\u{fffe}\u{ffff}\u{fffd}"), "&#xFFFE;&#xFFFF;\u{fffd}");
        assert_eq!(escape("阿里云/加油"), "阿里云/加油");
    }

    #[test]
    fn writes_compact_documents_with_prolog() {
        let mut w = XmlWriter::new();
        w.open("Root")
            .text("Key", "a&b")
            .display("Size", 42u64)
            .boolean("IsTruncated", false);
        w.text_opt("Missing", None).close("Root");
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Root><Key>a&amp;b</Key><Size>42</Size><IsTruncated>false</IsTruncated></Root>"
        );
    }
}
