//! What a benchmark run tells the operator while it runs: one line per step on stderr.

/// Reports a step of the run.
pub(crate) fn progress(what: &str) {
    eprintln!("cang bench: {what}");
}
