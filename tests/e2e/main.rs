//! End-to-end tests through the three real services.

mod faults;
mod objects;
