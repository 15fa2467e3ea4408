//! Cang's object encryption format (see `docs/format.md`).
