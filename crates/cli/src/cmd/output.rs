//! What the CLI prints on stdout: aligned text tables for people, JSON for scripts. Written through a
//! locked handle so a closed pipe (`cang admin … | head`) is an error, not a panic.

use std::io::Write;

use anyhow::Context;

/// Writes `text` (followed by a newline) to stdout.
pub fn line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("writing to stdout")?;
    out.flush().context("writing to stdout")
}

/// Writes `value` as pretty JSON to stdout.
pub fn json(value: &serde_json::Value) -> anyhow::Result<()> {
    line(&serde_json::to_string_pretty(value).context("encoding JSON")?)
}

/// A text table: a header row and left-aligned columns separated by two spaces.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text, one line per row, no trailing spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.pop();
        out
    }

    /// Prints the table.
    pub fn print(&self) -> anyhow::Result<()> {
        line(&self.render())
    }
}

/// `key: value` lines with aligned values, for one record.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {v}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A Unix time (seconds) as RFC 3339 UTC, or the number itself if out of range.
pub fn unix_time(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_align_on_the_widest_cell() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "default".into()]);
        t.row(vec!["1234".into(), "x".into()]);
        t.row(vec!["9".into()]);
        assert_eq!(t.render(), "ID    NAME\n1     default\n1234  x\n9");
    }

    #[test]
    fn table_counts_characters_not_bytes() {
        let mut t = Table::new(&["K", "V"]);
        t.row(vec!["藏藏".into(), "v".into()]);
        assert_eq!(t.render(), "K   V\n藏藏  v");
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(
            fields(&[("a", "1".into()), ("long", "2".into()), ("e", String::new())]),
            "a     1\nlong  2\ne"
        );
    }

    #[test]
    fn unix_time_is_rfc3339_utc() {
        assert_eq!(unix_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(unix_time(i64::MAX), i64::MAX.to_string());
    }
}
