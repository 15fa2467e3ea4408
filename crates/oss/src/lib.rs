//! The OSS REST protocol, as the official SDKs speak it: requests are parsed into typed endpoints,
//! signatures verified, XML bodies read and written, and errors rendered. No I/O, no runtime.

pub mod auth;
pub mod checksum;
pub mod date;
pub mod error;
pub mod headers;
pub mod model;
pub mod percent;
pub mod route;
pub mod xml;

pub use error::{CmkCondition, ErrorCode, OssError, RenderedError};
pub use route::{Addressing, CnameResolver, Endpoint, Route, Router};
