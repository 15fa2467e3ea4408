//! Known-answer tests for signature verification: the vectors of `docs/oss-api.md` §2.
