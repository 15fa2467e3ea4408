//! End-to-end tests through the three real services.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way

mod abuse;
mod append;
mod clock;
mod concurrency;
mod copy;
mod deadlines;
mod faults;
mod http;
mod isolation;
mod jobs;
mod keys;
mod listing;
mod multipart;
mod objects;
mod probes;
mod shredding;
mod signatures;
mod trace;
mod trust;
