//! Conversions of identity messages (accounts, users, access keys, policies) between protobuf and
//! domain types; the counterpart of `convert` for the identity half of the API.

use cang_proto::cang::meta::v1 as pb;

use crate::convert::bad;
use crate::{AccessKey, AccessKeyStatus, Account, MetaError, Policy, SealedSecret, User};

pub(crate) fn status_to_pb(s: AccessKeyStatus) -> i32 {
    match s {
        AccessKeyStatus::Active => pb::AccessKeyStatus::Active.into(),
        AccessKeyStatus::Inactive => pb::AccessKeyStatus::Inactive.into(),
    }
}

pub(crate) fn status_from_pb(v: i32) -> Result<AccessKeyStatus, MetaError> {
    match pb::AccessKeyStatus::try_from(v) {
        Ok(pb::AccessKeyStatus::Active) => Ok(AccessKeyStatus::Active),
        Ok(pb::AccessKeyStatus::Inactive) => Ok(AccessKeyStatus::Inactive),
        Ok(pb::AccessKeyStatus::Unspecified) | Err(_) => Err(bad("access key status")),
    }
}

impl From<Account> for pb::Account {
    fn from(a: Account) -> Self {
        Self {
            account_id: a.id,
            name: a.name,
            created_ms: a.created_ms,
        }
    }
}

impl From<pb::Account> for Account {
    fn from(a: pb::Account) -> Self {
        Self {
            id: a.account_id,
            name: a.name,
            created_ms: a.created_ms,
        }
    }
}

impl From<User> for pb::User {
    fn from(u: User) -> Self {
        Self {
            account_id: u.account_id,
            user: u.name,
            created_ms: u.created_ms,
        }
    }
}

impl From<pb::User> for User {
    fn from(u: pb::User) -> Self {
        Self {
            account_id: u.account_id,
            name: u.user,
            created_ms: u.created_ms,
        }
    }
}

impl From<AccessKey> for pb::AccessKey {
    fn from(k: AccessKey) -> Self {
        Self {
            access_key_id: k.id,
            account_id: k.account_id,
            user: k.user,
            sealed_secret: k.sealed_secret.as_bytes().to_vec(),
            status: status_to_pb(k.status),
            created_ms: k.created_ms,
        }
    }
}

impl TryFrom<pb::AccessKey> for AccessKey {
    type Error = MetaError;
    fn try_from(k: pb::AccessKey) -> Result<Self, MetaError> {
        Ok(Self {
            id: k.access_key_id,
            account_id: k.account_id,
            user: k.user,
            sealed_secret: SealedSecret::new(k.sealed_secret),
            status: status_from_pb(k.status)?,
            created_ms: k.created_ms,
        })
    }
}

impl From<Policy> for pb::Policy {
    fn from(p: Policy) -> Self {
        Self {
            account_id: p.account_id,
            name: p.name,
            document: p.document,
            created_ms: p.created_ms,
        }
    }
}

impl From<pb::Policy> for Policy {
    fn from(p: pb::Policy) -> Self {
        Self {
            account_id: p.account_id,
            name: p.name,
            document: p.document,
            created_ms: p.created_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_round_trip_and_unknown_status_is_refused() {
        let key = AccessKey {
            id: "LTAI".into(),
            account_id: "1".into(),
            user: Some("alice".into()),
            sealed_secret: SealedSecret::new(vec![5; 40]),
            status: AccessKeyStatus::Inactive,
            created_ms: 9,
        };
        assert_eq!(
            AccessKey::try_from(pb::AccessKey::from(key.clone())).unwrap(),
            key
        );
        let mut msg = pb::AccessKey::from(key);
        msg.status = 0;
        assert!(AccessKey::try_from(msg).is_err());
    }
}
