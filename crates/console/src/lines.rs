//! Where in a policy document its refusal points: the line serde_json names when the document is not JSON,
//! else the line of the element the policy validator's path names (`Statement[1].Effect`), found by walking
//! the document's own text.

/// The 1-based line of the place `message` (a refusal of `document`) names, if it can be found.
pub fn error_line(document: &str, message: &str) -> Option<usize> {
    if let Some(at) = message.find(" line ") {
        let digits: String = message[at + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(line) = digits.parse() {
            return Some(line);
        }
    }
    let path = parse_path(message.split(": ").next()?)?;
    let mut scan = Scan {
        text: document.as_bytes(),
        at: 0,
        line: 1,
    };
    scan.find(&path, 0)
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        steps.push(Step::Key(name.to_owned()));
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']')?;
            steps.push(Step::Index(index.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    Some(steps)
}

/// Deepest nesting walked.
const MAX_DEPTH: usize = 64;

struct Scan<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b) = self.peek() {
            if !b.is_ascii_whitespace() {
                break;
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string's raw content (escapes kept as written, enough to compare field names).
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => self.at += 2,
                b'\n' => return None,
                _ => self.at += 1,
            }
        }
        let raw = std::str::from_utf8(self.text.get(start..self.at)?)
            .ok()?
            .to_owned();
        self.at += 1;
        Some(raw)
    }

    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.space();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => {
                self.at += 1;
                self.space();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    self.string()?;
                    self.eat(b':')?;
                    self.skip(depth + 1)?;
                    self.space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                self.space();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => {
                let start = self.at;
                while let Some(b) = self.peek() {
                    if b == b',' || b == b'}' || b == b']' || b.is_ascii_whitespace() {
                        break;
                    }
                    self.at += 1;
                }
                (self.at > start).then_some(())
            }
        }
    }

    /// The line where the value at `path` begins.
    fn find(&mut self, path: &[Step], depth: usize) -> Option<usize> {
        self.space();
        let Some((first, rest)) = path.split_first() else {
            return Some(self.line);
        };
        if depth > MAX_DEPTH {
            return None;
        }
        match (first, self.peek()?) {
            (Step::Key(wanted), b'{') => {
                self.at += 1;
                loop {
                    self.space();
                    if self.peek()? == b'}' {
                        return None;
                    }
                    let key = self.string()?;
                    self.eat(b':')?;
                    if key == *wanted {
                        return self.find(rest, depth + 1);
                    }
                    self.skip(depth + 1)?;
                    self.eat(b',')?;
                }
            }
            (Step::Index(wanted), b'[') => {
                self.at += 1;
                for index in 0.. {
                    self.space();
                    if self.peek()? == b']' {
                        return None;
                    }
                    if index == *wanted {
                        return self.find(rest, depth + 1);
                    }
                    self.skip(depth + 1)?;
                    self.eat(b',')?;
                }
                None
            }
            // A single statement object where a list was expected: index 0 is the object itself.
            (Step::Index(0), b'{') => self.find(rest, depth + 1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DOC: &str = "{\n  \"Version\": \"1\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \
                       \"Action\": [\"oss:Get*\"],\n      \"Resource\": \"*\"\n    },\n    {\n      \"Effect\": \"Maybe\",\n      \
                       \"Action\": \"oss:*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}\n";

    #[test]
    fn a_validator_path_finds_its_line() {
        assert_eq!(
            error_line(
                DOC,
                "Statement[1].Effect: expected \"Allow\" or \"Deny\", got \"Maybe\""
            ),
            Some(10)
        );
        assert_eq!(error_line(DOC, "Statement[0].Action: x"), Some(6));
        assert_eq!(error_line(DOC, "Version: unsupported"), Some(2));
        assert_eq!(error_line(DOC, "Statement[5].Effect: x"), None);
    }

    #[test]
    fn a_json_error_names_its_line() {
        assert_eq!(
            error_line(
                "{\n nope",
                "policy document is not valid JSON: key must be a string at line 2 column 2"
            ),
            Some(2)
        );
    }

    proptest! {
        #[test]
        fn no_document_or_message_panics(doc in ".{0,300}", message in ".{0,80}") {
            let _ = error_line(&doc, &message);
        }

        #[test]
        fn deep_documents_end(depth in 0usize..400) {
            let doc = format!("{{\"Statement\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
            let _ = error_line(&doc, "Statement[0][0][0].Effect: x");
        }
    }
}
