//! Request routing: method, `Host`, path and query → a typed [`Endpoint`], with the addressing style,
//! resolved bucket and decoded key that signature verification needs for its canonical resource.

mod dispatch;
pub mod endpoint;
pub mod names;
mod query;

use std::net::IpAddr;

use http::{HeaderMap, Method};

pub use endpoint::{
    Endpoint, ListBucketsParams, ListObjectsParams, ListObjectsV2Params, ListPartsParams, ListUploadsParams,
};
pub use names::{CopySource, validate_bucket_name, validate_object_key};
pub use query::Query;

use crate::error::OssError;
use crate::percent::decode_path;
use dispatch::{Target, dispatch};

/// Maps a custom domain (CNAME) to the bucket it serves. Closures `Fn(&str) -> Option<String>` implement it.
pub trait CnameResolver {
    /// The bucket served at `host` (lower case, without port), if it is a configured custom domain.
    fn bucket_for_host(&self, host: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> CnameResolver for F {
    fn bucket_for_host(&self, host: &str) -> Option<String> {
        self(host)
    }
}

/// No custom domains: every host that is not under a base domain is addressed path style.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCname;

impl CnameResolver for NoCname {
    fn bucket_for_host(&self, _host: &str) -> Option<String> {
        None
    }
}

/// How the request named its bucket (§1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `bucket.<base domain>`.
    VirtualHosted,
    /// `/<bucket>/…` on an IP, a base domain or an unmapped host. `trailing_slash` is false for a bucket-level
    /// request whose path is exactly `/<bucket>` (OpenDAL), which reqsign signs as `/<bucket>` (§2.2.4).
    PathStyle {
        /// Whether a bucket-level path ended in `/`.
        trailing_slash: bool,
    },
    /// A custom domain mapped to a bucket; the bucket appears in neither host nor path.
    Cname,
    /// No bucket: the service endpoint (`GET /`).
    Service,
}

/// A routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The operation.
    pub endpoint: Endpoint,
    /// How the bucket was addressed.
    pub addressing: Addressing,
    /// The decoded query.
    pub query: Query,
}

impl Route {
    /// The logical bucket (what SDKs sign in the canonical resource), if any.
    pub fn bucket(&self) -> Option<&str> {
        self.endpoint.bucket()
    }

    /// The decoded object key, if the request addresses an object.
    pub fn key(&self) -> Option<&str> {
        self.endpoint.key()
    }
}

/// The router: base domains for virtual-hosted addressing and a custom-domain hook.
#[derive(Debug, Clone)]
pub struct Router<C = NoCname> {
    base_domains: Vec<String>,
    cname: C,
}

impl Router<NoCname> {
    /// A router serving virtual-hosted buckets under each of `base_domains` (e.g. `localhost`,
    /// `oss-local.test`); matching is case-insensitive and ignores the port.
    pub fn new<S: Into<String>>(base_domains: impl IntoIterator<Item = S>) -> Self {
        let mut base_domains: Vec<String> = base_domains
            .into_iter()
            .map(|d| d.into().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        // The longest (most specific) domain must win: `oss.example` before `example`.
        base_domains.sort_by_key(|d| std::cmp::Reverse(d.len()));
        Self {
            base_domains,
            cname: NoCname,
        }
    }
}

impl<C: CnameResolver> Router<C> {
    /// Adds a custom-domain resolver, consulted for hosts outside the base domains.
    pub fn with_cname<D: CnameResolver>(self, cname: D) -> Router<D> {
        Router {
            base_domains: self.base_domains,
            cname,
        }
    }

    /// Routes one request. `host` is the `Host` header (or URI authority), `raw_path` the still
    /// percent-encoded path, `raw_query` the query string without `?`.
    pub fn route(
        &self,
        method: &Method,
        host: Option<&str>,
        raw_path: &str,
        raw_query: &str,
        headers: &HeaderMap,
    ) -> Result<Route, OssError> {
        let query = Query::parse(raw_query)?;
        let (target, addressing) = self.target(host, raw_path)?;
        let endpoint = dispatch(method, target, &query, headers)?;
        Ok(Route {
            endpoint,
            addressing,
            query,
        })
    }

    /// Routes an `http::Request`, taking the host from the `Host` header or the URI.
    pub fn route_request<B>(&self, request: &http::Request<B>) -> Result<Route, OssError> {
        let uri = request.uri();
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        self.route(
            request.method(),
            host,
            uri.path(),
            uri.query().unwrap_or(""),
            request.headers(),
        )
    }

    fn target(&self, host: Option<&str>, raw_path: &str) -> Result<(Target, Addressing), OssError> {
        let rest = raw_path
            .strip_prefix('/')
            .ok_or_else(|| OssError::invalid_argument("The request path must start with '/'."))?;
        if let Some((bucket, addressing)) = self.host_bucket(host)? {
            return Ok(match rest {
                "" => (Target::Bucket(bucket), addressing),
                raw_key => (
                    Target::Object(bucket, names::decode_object_key(raw_key)?),
                    addressing,
                ),
            });
        }
        if rest.is_empty() {
            return Ok((Target::Service, Addressing::Service));
        }
        // Split the bucket off before decoding, so that `%2F` inside the key stays part of the key.
        let (raw_bucket, raw_key) = match rest.split_once('/') {
            Some((b, k)) => (b, Some(k)),
            None => (rest, None),
        };
        let bucket = decode_path(raw_bucket).ok_or_else(|| OssError::invalid_bucket_name(raw_bucket))?;
        validate_bucket_name(&bucket)?;
        Ok(match raw_key {
            None => (
                Target::Bucket(bucket),
                Addressing::PathStyle {
                    trailing_slash: false,
                },
            ),
            Some("") => (
                Target::Bucket(bucket),
                Addressing::PathStyle { trailing_slash: true },
            ),
            Some(raw_key) => (
                Target::Object(bucket, names::decode_object_key(raw_key)?),
                Addressing::PathStyle { trailing_slash: true },
            ),
        })
    }

    /// The bucket named by the host, if any.
    fn host_bucket(&self, host: Option<&str>) -> Result<Option<(String, Addressing)>, OssError> {
        let Some(host) = host.map(strip_port) else {
            return Ok(None);
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.parse::<IpAddr>().is_ok() {
            return Ok(None);
        }
        for base in &self.base_domains {
            if host == *base {
                return Ok(None);
            }
            if let Some(label) = host.strip_suffix(base.as_str()).and_then(|h| h.strip_suffix('.')) {
                validate_bucket_name(label)?;
                return Ok(Some((label.to_owned(), Addressing::VirtualHosted)));
            }
        }
        match self.cname.bucket_for_host(&host) {
            Some(bucket) => {
                validate_bucket_name(&bucket)?;
                Ok(Some((bucket, Addressing::Cname)))
            }
            None => Ok(None),
        }
    }
}

/// `host:port` → `host`; `[v6]:port` → `v6`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(addr, _)| addr);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests;
