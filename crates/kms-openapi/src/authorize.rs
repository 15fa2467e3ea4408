//! Who is calling, and whether RAM lets them: an account's root key may do anything to the account's
//! own keys; a RAM user needs an `Allow` of `kms:<Action>` on the resource's ARN and no `Deny`.
//! ARNs always name the caller's own account, so a foreign account's key is never addressed: it is
//! simply not found.

use std::net::IpAddr;

use cang_access_keys::{KeyOwner, ResolvedAccessKey};
use cang_kms_api::{AccountId, AliasName, EndUser, KeyId};
use cang_policy::{ConditionContext, Request, evaluate, keys};
use time::OffsetDateTime;

use crate::OpenApiError;

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    key: ResolvedAccessKey,
    account: AccountId,
    region: String,
    source_ip: IpAddr,
    context: ConditionContext,
}

impl Caller {
    /// The caller behind `key`, with the request facts RAM conditions may test.
    pub fn new(
        key: ResolvedAccessKey,
        region: &str,
        source_ip: IpAddr,
        now: OffsetDateTime,
        user_agent: Option<&str>,
    ) -> Result<Self, OpenApiError> {
        let account = AccountId::new(key.account.clone()).map_err(|_| OpenApiError::Internal)?;
        let mut context = ConditionContext::new()
            .with_source_ip(source_ip)
            .with_secure_transport(false)
            .with_current_time(now)
            .with(keys::ACCESS_ID, key.access_key_id.clone());
        if let Some(agent) = user_agent {
            context.insert(keys::USER_AGENT, agent);
        }
        Ok(Self {
            key,
            account,
            region: region.to_owned(),
            source_ip,
            context,
        })
    }

    /// The caller's account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The RAM user calling, `None` for the account's root key.
    pub fn user(&self) -> Option<&str> {
        match &self.key.owner {
            KeyOwner::AccountRoot => None,
            KeyOwner::RamUser { user, .. } => Some(user),
        }
    }

    /// The end user the audit names.
    pub fn end_user(&self) -> Result<EndUser, OpenApiError> {
        let user = match &self.key.owner {
            KeyOwner::AccountRoot => None,
            KeyOwner::RamUser { user, .. } => Some(user.clone()),
        };
        EndUser::new(self.key.account.clone(), user, self.key.access_key_id.clone())
            .map(|u| u.from_address(self.source_ip))
            .map_err(|_| OpenApiError::Internal)
    }

    /// `acs:kms:<region>:<account>:key/<id>`.
    pub fn key_arn(&self, id: &KeyId) -> String {
        format!("acs:kms:{}:{}:key/{id}", self.region, self.account)
    }

    /// `acs:kms:<region>:<account>:alias/<name>` (`name` already starts with `alias/`).
    pub fn alias_arn(&self, alias: &AliasName) -> String {
        format!("acs:kms:{}:{}:{alias}", self.region, self.account)
    }

    /// The key container, `acs:kms:<region>:<account>:key` (CreateKey, ListKeys).
    pub fn key_container(&self) -> String {
        format!("acs:kms:{}:{}:key", self.region, self.account)
    }

    /// The alias container, `acs:kms:<region>:<account>:alias` (ListAliases).
    pub fn alias_container(&self) -> String {
        format!("acs:kms:{}:{}:alias", self.region, self.account)
    }

    /// Refuses `action` on `resource` unless the caller may perform it.
    pub fn authorize(&self, action: &str, resource: &str) -> Result<(), OpenApiError> {
        match &self.key.owner {
            KeyOwner::AccountRoot => Ok(()),
            KeyOwner::RamUser { user, policies } => {
                let request = Request::new(action, resource, &self.context);
                if evaluate(policies, &request).is_allowed() {
                    Ok(())
                } else {
                    tracing::info!(user, action, resource, "refused by RAM policy");
                    Err(OpenApiError::NoPermission)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn caller(owner: KeyOwner) -> Result<Caller, OpenApiError> {
        let key = ResolvedAccessKey {
            access_key_id: "LTAI1".into(),
            account: "1234".into(),
            owner,
            secret: zeroize::Zeroizing::new("s".into()),
        };
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).map_err(|_| OpenApiError::Internal)?;
        Caller::new(key, "cn-hangzhou", IpAddr::from([127, 0, 0, 1]), now, Some("sdk"))
    }

    fn user(doc: &str) -> Result<KeyOwner, Box<dyn std::error::Error>> {
        Ok(KeyOwner::RamUser {
            user: "alice".into(),
            policies: Arc::new(vec![cang_policy::Policy::parse(doc)?]),
        })
    }

    #[test]
    fn arns_name_the_callers_account_and_region() -> Result<(), Box<dyn std::error::Error>> {
        let c = caller(KeyOwner::AccountRoot)?;
        assert_eq!(c.key_arn(&KeyId::new("k-1")?), "acs:kms:cn-hangzhou:1234:key/k-1");
        assert_eq!(
            c.alias_arn(&AliasName::new("alias/app")?),
            "acs:kms:cn-hangzhou:1234:alias/app"
        );
        assert_eq!(c.key_container(), "acs:kms:cn-hangzhou:1234:key");
        let from = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(
            c.end_user()?,
            EndUser::new("1234", None, "LTAI1")?.from_address(from)
        );
        Ok(())
    }

    #[test]
    fn the_seed_policy_lists_and_describes_but_uses_nothing() -> Result<(), Box<dyn std::error::Error>> {
        let c = caller(user(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:List*","kms:DescribeKey"],"Resource":"*"}]}"#,
        )?)?;
        let arn = c.key_arn(&KeyId::new("k-1")?);
        c.authorize("kms:ListKeys", &c.key_container())?;
        c.authorize("kms:ListAliasesByKeyId", &arn)?;
        c.authorize("kms:DescribeKey", &arn)?;
        for action in [
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "kms:CreateKey",
            "kms:DisableKey",
        ] {
            assert_eq!(
                c.authorize(action, &arn),
                Err(OpenApiError::NoPermission),
                "{action}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_deny_wins_and_conditions_see_the_request() -> Result<(), Box<dyn std::error::Error>> {
        let c = caller(user(
            r#"{"Version":"1","Statement":[
                {"Effect":"Allow","Action":"kms:*","Resource":"*"},
                {"Effect":"Deny","Action":"kms:Decrypt","Resource":"acs:kms:*:1234:key/secret"},
                {"Effect":"Deny","Action":"kms:Encrypt","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}
            ]}"#,
        )?)?;
        c.authorize("kms:Decrypt", &c.key_arn(&KeyId::new("other")?))?;
        assert_eq!(
            c.authorize("kms:Decrypt", &c.key_arn(&KeyId::new("secret")?)),
            Err(OpenApiError::NoPermission)
        );
        assert_eq!(
            c.authorize("kms:Encrypt", &c.key_arn(&KeyId::new("other")?)),
            Err(OpenApiError::NoPermission)
        );
        Ok(())
    }
}
