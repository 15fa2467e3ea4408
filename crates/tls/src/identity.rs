//! Caller identity from the peer certificate of a tonic request, and an interceptor that admits only
//! the identities a service accepts.

use std::fmt;
use std::str::FromStr;

use tonic::{Request, Status};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::IdentityError;

/// The parties of Cang's internal hops, named by their certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceIdentity {
    /// `cang gateway`: the OSS front end.
    Gateway,
    /// The operator's CLI (`cang admin …`).
    Admin,
    /// `cang kms`: the crypto service.
    Kms,
    /// `cang meta`: the metadata/blob service.
    Meta,
}

impl ServiceIdentity {
    /// Every identity, in a fixed order (used by the certificate generator).
    pub const ALL: [ServiceIdentity; 4] = [Self::Gateway, Self::Admin, Self::Kms, Self::Meta];

    /// The name used as certificate CN and file stem.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Admin => "admin",
            Self::Kms => "kms",
            Self::Meta => "meta",
        }
    }
}

impl fmt::Display for ServiceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceIdentity {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|id| id.as_str() == s)
            .ok_or(IdentityError::UnknownIdentity)
    }
}

/// The identity a DER certificate names.
///
/// The subject CN decides when present. Without a CN, the URI SANs (`spiffe://<domain>/<name>` or
/// `cang://<name>`) and DNS SANs that name an identity decide, and they must all agree.
pub fn identity_of_certificate(der: &[u8]) -> Result<ServiceIdentity, IdentityError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| IdentityError::MalformedCertificate)?;
    let mut common_names = cert.subject().iter_common_name();
    if let Some(cn) = common_names.next() {
        if common_names.next().is_some() {
            return Err(IdentityError::UnknownIdentity);
        }
        let cn = cn.as_str().map_err(|_| IdentityError::MalformedCertificate)?;
        return cn.parse();
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|_| IdentityError::MalformedCertificate)?;
    let mut found: Option<ServiceIdentity> = None;
    for name in san.iter().flat_map(|ext| ext.value.general_names.iter()) {
        let candidate = match name {
            GeneralName::URI(uri) => uri
                .strip_prefix("spiffe://")
                .and_then(|rest| rest.rsplit('/').next())
                .or_else(|| uri.strip_prefix("cang://"))
                .and_then(|n| n.parse().ok()),
            GeneralName::DNSName(dns) => dns.parse().ok(),
            _ => None,
        };
        match (found, candidate) {
            (Some(a), Some(b)) if a != b => return Err(IdentityError::UnknownIdentity),
            (None, Some(b)) => found = Some(b),
            _ => {}
        }
    }
    found.ok_or(IdentityError::UnknownIdentity)
}

/// The identity of the caller of `request`, from the leaf certificate of its mTLS connection.
pub fn peer_identity<T>(request: &Request<T>) -> Result<ServiceIdentity, IdentityError> {
    let certs = request.peer_certs().ok_or(IdentityError::NoPeerCertificate)?;
    let leaf = certs.first().ok_or(IdentityError::NoPeerCertificate)?;
    identity_of_certificate(leaf.as_ref())
}

/// A tonic interceptor that admits only callers whose certificate names one of `allowed`, and stores
/// their [`ServiceIdentity`] in the request extensions for the handlers.
#[derive(Debug, Clone, Copy)]
pub struct IdentityInterceptor {
    allowed: &'static [ServiceIdentity],
}

impl tonic::service::Interceptor for IdentityInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let identity = match peer_identity(&request) {
            Ok(id) if self.allowed.contains(&id) => id,
            Ok(id) => {
                return Err(Status::permission_denied(
                    IdentityError::NotAllowed(id).to_string(),
                ));
            }
            Err(e) => return Err(Status::unauthenticated(e.to_string())),
        };
        request.extensions_mut().insert(identity);
        Ok(request)
    }
}

/// An [`IdentityInterceptor`] admitting `allowed`.
pub fn identity_interceptor(allowed: &'static [ServiceIdentity]) -> IdentityInterceptor {
    IdentityInterceptor { allowed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CertificateAuthority;

    #[test]
    fn names_round_trip() {
        for id in ServiceIdentity::ALL {
            assert_eq!(id.as_str().parse::<ServiceIdentity>(), Ok(id));
        }
        assert_eq!(
            "Gateway".parse::<ServiceIdentity>(),
            Err(IdentityError::UnknownIdentity)
        );
        assert_eq!("".parse::<ServiceIdentity>(), Err(IdentityError::UnknownIdentity));
    }

    #[test]
    fn common_name_decides() -> Result<(), Box<dyn std::error::Error>> {
        let ca = CertificateAuthority::generate("test ca")?;
        let admin = ca.issue("admin")?;
        let intruder = ca.issue("intruder")?;
        assert_eq!(identity_of_certificate(&admin.der)?, ServiceIdentity::Admin);
        assert_eq!(
            identity_of_certificate(&intruder.der),
            Err(IdentityError::UnknownIdentity)
        );
        assert_eq!(
            identity_of_certificate(b"not a certificate"),
            Err(IdentityError::MalformedCertificate)
        );
        Ok(())
    }
}
