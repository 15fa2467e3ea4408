//! The subcommands. Each module parses its flags into the typed configuration of a library crate and
//! runs it; nothing here implements service behaviour.

pub mod admin;
pub mod bench;
pub mod config_file;
pub mod gateway;
pub mod instance;
pub mod kms;
pub mod meta;
pub mod output;
pub mod service;
pub mod up;
