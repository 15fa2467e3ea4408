//! The end user on whose behalf a service uses a key (account, RAM user, access key id, and the address
//! the request came from): request-scoped
//! context like the trace context, set around a call with [`on_behalf_of`], carried to the crypto
//! service as gRPC metadata by [`crate::KmsGrpcClient`] and recorded in its audit beside the service
//! identity. None of it is secret; it is validated wherever it is parsed.

use std::future::Future;
use std::net::IpAddr;

use tonic::metadata::{AsciiMetadataValue, MetadataMap};

use crate::KmsError;

/// Metadata entry naming the end user's account.
pub const END_USER_ACCOUNT_METADATA: &str = "x-cang-end-user-account";
/// Metadata entry naming the RAM user (absent for the account's root access key).
pub const END_USER_USER_METADATA: &str = "x-cang-end-user-user";
/// Metadata entry naming the access key the request was signed with.
pub const END_USER_ACCESS_KEY_ID_METADATA: &str = "x-cang-end-user-access-key-id";
/// Metadata entry naming the address the end user's request came from (optional).
pub const END_USER_SOURCE_IP_METADATA: &str = "x-cang-end-user-source-ip";

/// Longest accepted field, in bytes (the metadata service's identifier limit).
pub const END_USER_FIELD_MAX_LEN: usize = 128;

/// The end user a request is made for: who signed the OSS or KMS request that led to a key use.
///
/// Each field is 1–[`END_USER_FIELD_MAX_LEN`] printable ASCII characters without spaces, as account
/// ids, user names and access key ids are in the metadata service; [`EndUser::validate`] checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndUser {
    /// The account the access key belongs to.
    pub account: String,
    /// The RAM user, or `None` for the account's root access key.
    pub user: Option<String>,
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The address the request came from, when the edge that authenticated it knows it.
    pub source_ip: Option<IpAddr>,
}

fn check(what: &str, value: &str) -> Result<(), KmsError> {
    if value.is_empty()
        || value.len() > END_USER_FIELD_MAX_LEN
        || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(KmsError::InvalidArgument(format!(
            "end user {what} must be 1-{END_USER_FIELD_MAX_LEN} printable ASCII characters without spaces"
        )));
    }
    Ok(())
}

impl EndUser {
    /// Builds and validates an end user.
    pub fn new(
        account: impl Into<String>,
        user: Option<String>,
        access_key_id: impl Into<String>,
    ) -> Result<Self, KmsError> {
        let end_user = Self {
            account: account.into(),
            user,
            access_key_id: access_key_id.into(),
            source_ip: None,
        };
        end_user.validate()?;
        Ok(end_user)
    }

    /// The same end user, whose request came from `ip`.
    #[must_use]
    pub fn from_address(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }

    /// Checks every field (the fields are public, so a value built directly may be invalid).
    pub fn validate(&self) -> Result<(), KmsError> {
        check("account", &self.account)?;
        if let Some(user) = &self.user {
            check("user", user)?;
        }
        check("access key id", &self.access_key_id)
    }

    /// Writes the end user into request metadata, replacing any entries already there.
    pub fn to_metadata(&self, metadata: &mut MetadataMap) -> Result<(), KmsError> {
        self.validate()?;
        let value = |s: &str| {
            AsciiMetadataValue::try_from(s)
                .map_err(|_| KmsError::InvalidArgument("end user is not valid metadata".into()))
        };
        metadata.insert(END_USER_ACCOUNT_METADATA, value(&self.account)?);
        match &self.user {
            Some(user) => {
                metadata.insert(END_USER_USER_METADATA, value(user)?);
            }
            None => {
                metadata.remove(END_USER_USER_METADATA);
            }
        }
        metadata.insert(END_USER_ACCESS_KEY_ID_METADATA, value(&self.access_key_id)?);
        match self.source_ip {
            Some(ip) => {
                metadata.insert(END_USER_SOURCE_IP_METADATA, value(&ip.to_string())?);
            }
            None => {
                metadata.remove(END_USER_SOURCE_IP_METADATA);
            }
        }
        Ok(())
    }

    /// Reads the end user from request metadata: `None` when no end-user entry is present; an error
    /// when the entries are incomplete, repeated, not ASCII or fail [`EndUser::validate`].
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Option<Self>, KmsError> {
        let malformed = || KmsError::InvalidArgument("malformed end-user metadata".into());
        let read = |key: &str| -> Result<Option<String>, KmsError> {
            let mut values = metadata.get_all(key).iter();
            let Some(first) = values.next() else {
                return Ok(None);
            };
            if values.next().is_some() {
                return Err(malformed());
            }
            let text = first.to_str().map_err(|_| malformed())?;
            Ok(Some(text.to_owned()))
        };
        let account = read(END_USER_ACCOUNT_METADATA)?;
        let user = read(END_USER_USER_METADATA)?;
        let access_key_id = read(END_USER_ACCESS_KEY_ID_METADATA)?;
        let source_ip = read(END_USER_SOURCE_IP_METADATA)?
            .map(|text| text.parse::<IpAddr>().map_err(|_| malformed()))
            .transpose()?;
        match (account, access_key_id) {
            (None, None) if user.is_none() && source_ip.is_none() => Ok(None),
            (Some(account), Some(access_key_id)) => {
                let user = Self::new(account, user, access_key_id)?;
                Ok(Some(Self { source_ip, ..user }))
            }
            _ => Err(malformed()),
        }
    }
}

tokio::task_local! {
    static END_USER: EndUser;
}

/// Runs `f` on behalf of `user`: every crypto-service call made while `f` runs (through
/// [`crate::KmsGrpcClient`], or an in-process session of the gateway identity) is attributed to
/// `user` in the audit. Request-scoped like the trace context: it applies to `f` only, and a task
/// spawned from `f` does not inherit it (wrap the spawned future again).
pub async fn on_behalf_of<F: Future>(user: EndUser, f: F) -> F::Output {
    END_USER.scope(user, f).await
}

/// The end user set by the innermost enclosing [`on_behalf_of`] of the current task, if any.
pub fn current_end_user() -> Option<EndUser> {
    END_USER.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tonic::metadata::MetadataValue;

    fn alice() -> EndUser {
        EndUser {
            account: "1234567890".into(),
            user: Some("alice".into()),
            access_key_id: "LTAI5tAlice".into(),
            source_ip: None,
        }
    }

    #[test]
    fn metadata_round_trip() -> Result<(), KmsError> {
        for user in [
            alice(),
            EndUser {
                user: None,
                ..alice()
            },
            alice().from_address(IpAddr::from([192, 0, 2, 7])),
            alice().from_address("2001:db8::1".parse().unwrap_or_else(|_| unreachable!())),
        ] {
            let mut md = MetadataMap::new();
            user.to_metadata(&mut md)?;
            assert_eq!(EndUser::from_metadata(&md)?, Some(user));
        }
        assert_eq!(EndUser::from_metadata(&MetadataMap::new())?, None);
        Ok(())
    }

    #[test]
    fn writing_replaces_an_earlier_user() -> Result<(), KmsError> {
        let mut md = MetadataMap::new();
        alice()
            .from_address(IpAddr::from([192, 0, 2, 7]))
            .to_metadata(&mut md)?;
        let root = EndUser {
            user: None,
            ..alice()
        };
        root.to_metadata(&mut md)?;
        assert_eq!(EndUser::from_metadata(&md)?, Some(root));
        Ok(())
    }

    #[test]
    fn malformed_metadata_is_refused() {
        let base = || {
            let mut md = MetadataMap::new();
            md.insert(
                END_USER_ACCOUNT_METADATA,
                MetadataValue::from_static("1234567890"),
            );
            md.insert(
                END_USER_ACCESS_KEY_ID_METADATA,
                MetadataValue::from_static("LTAI"),
            );
            md
        };
        let mut missing_key = MetadataMap::new();
        missing_key.insert(END_USER_ACCOUNT_METADATA, MetadataValue::from_static("1"));
        let mut only_user = MetadataMap::new();
        only_user.insert(END_USER_USER_METADATA, MetadataValue::from_static("alice"));
        let mut spaces = base();
        spaces.insert(END_USER_USER_METADATA, MetadataValue::from_static("al ice"));
        let mut long = base();
        let long_value = "a".repeat(END_USER_FIELD_MAX_LEN + 1);
        long.insert(
            END_USER_ACCOUNT_METADATA,
            AsciiMetadataValue::try_from(long_value.as_str()).unwrap_or_else(|_| unreachable!()),
        );
        let mut repeated = base();
        repeated.append(
            END_USER_ACCESS_KEY_ID_METADATA,
            MetadataValue::from_static("LTAI2"),
        );
        let mut bad_address = base();
        bad_address.insert(
            END_USER_SOURCE_IP_METADATA,
            MetadataValue::from_static("10.0.0.300"),
        );
        let mut address_alone = MetadataMap::new();
        address_alone.insert(
            END_USER_SOURCE_IP_METADATA,
            MetadataValue::from_static("10.0.0.3"),
        );
        let mut binaryish = base();
        binaryish.insert(
            END_USER_USER_METADATA,
            AsciiMetadataValue::try_from(b"\xffbob".as_slice()).unwrap_or_else(|_| unreachable!()),
        );
        for (what, md) in [
            ("account without access key", missing_key),
            ("user alone", only_user),
            ("space", spaces),
            ("too long", long),
            ("repeated", repeated),
            ("not an address", bad_address),
            ("address alone", address_alone),
            ("not ASCII", binaryish),
        ] {
            assert!(
                matches!(EndUser::from_metadata(&md), Err(KmsError::InvalidArgument(_))),
                "{what}"
            );
        }
    }

    #[test]
    fn new_validates() {
        assert!(EndUser::new("1", None, "LTAI").is_ok());
        assert!(EndUser::new("", None, "LTAI").is_err());
        assert!(EndUser::new("1", Some(String::new()), "LTAI").is_err());
        assert!(EndUser::new("1", Some("bö".into()), "LTAI").is_err());
        assert!(EndUser::new("1", None, "a".repeat(129)).is_err());
    }

    #[tokio::test]
    async fn scope_is_request_local() {
        assert_eq!(current_end_user(), None);
        let seen = on_behalf_of(alice(), async {
            let outer = current_end_user();
            let root = EndUser {
                user: None,
                ..alice()
            };
            let inner = on_behalf_of(root.clone(), async { current_end_user() }).await;
            let spawned = tokio::spawn(async { current_end_user() }).await.ok().flatten();
            (outer, inner == Some(root), spawned, current_end_user())
        })
        .await;
        assert_eq!(seen, (Some(alice()), true, None, Some(alice())));
        assert_eq!(current_end_user(), None);
    }

    proptest! {
        #[test]
        fn arbitrary_metadata_never_panics(
            account in proptest::collection::vec(any::<u8>(), 0..200),
            user in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            key in proptest::collection::vec(any::<u8>(), 0..200),
            address in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..48)),
        ) {
            let mut md = MetadataMap::new();
            for (name, bytes) in [
                (END_USER_ACCOUNT_METADATA, Some(account)),
                (END_USER_USER_METADATA, user),
                (END_USER_ACCESS_KEY_ID_METADATA, Some(key)),
                (END_USER_SOURCE_IP_METADATA, address),
            ] {
                if let Some(v) = bytes.and_then(|b| AsciiMetadataValue::try_from(b.as_slice()).ok()) {
                    md.insert(name, v);
                }
            }
            if let Ok(Some(parsed)) = EndUser::from_metadata(&md) {
                prop_assert!(parsed.validate().is_ok());
                let mut again = MetadataMap::new();
                prop_assert!(parsed.to_metadata(&mut again).is_ok());
                prop_assert_eq!(EndUser::from_metadata(&again).ok().flatten(), Some(parsed));
            }
        }
    }
}
