//! The RAM OpenAPI (version 2015-05-01) on the same edge: an account's RAM users, their access keys and the
//! account's custom policies, for the account's root key and for RAM users whose policies allow the
//! `ram:` action. Requests are signed, checked for replay and answered exactly as KMS actions are; only
//! the version tells them apart, as Alibaba's RPC APIs do. Every name and key is looked up within the
//! caller's own account: another account's user, key or policy does not exist for it.

use cang_access_keys::create_access_key;
use cang_kms_api::KmsApi;
use cang_meta_api::{AccessKey, AccessKeyStatus, IdentityStore, MetaError, Policy, User};
use serde_json::{Value, json};

use crate::OpenApiError;
use crate::authorize::Caller;
use crate::exec::{Answer, iso_time};
use crate::params::Params;

/// The RAM API version.
pub const RAM_VERSION: &str = "2015-05-01";

/// Longest user or policy name (RAM: 64 and 128).
const MAX_USER_NAME: usize = 64;
const MAX_POLICY_NAME: usize = 128;
/// Access keys a user may hold (RAM: two).
const MAX_KEYS_PER_USER: usize = 2;

/// One RAM action and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RamOperation {
    /// `CreateUser`.
    CreateUser(String),
    /// `GetUser`.
    GetUser(String),
    /// `ListUsers`.
    ListUsers,
    /// `DeleteUser`.
    DeleteUser(String),
    /// `CreateAccessKey` for a user, or for the caller itself.
    CreateAccessKey(Option<String>),
    /// `ListAccessKeys` of a user, or of the caller itself.
    ListAccessKeys(Option<String>),
    /// `UpdateAccessKey`: user (or the caller), key id, new status.
    UpdateAccessKey(Option<String>, String, AccessKeyStatus),
    /// `DeleteAccessKey`: user (or the caller), key id.
    DeleteAccessKey(Option<String>, String),
    /// `CreatePolicy`: name, document.
    CreatePolicy(String, String),
    /// `GetPolicy`.
    GetPolicy(String),
    /// `ListPolicies`.
    ListPolicies,
    /// `DeletePolicy`.
    DeletePolicy(String),
    /// `AttachPolicyToUser`: policy, user.
    AttachPolicyToUser(String, String),
    /// `DetachPolicyFromUser`: policy, user.
    DetachPolicyFromUser(String, String),
    /// `ListPoliciesForUser`.
    ListPoliciesForUser(String),
}

fn name(p: &Params, param: &str, max: usize) -> Result<String, OpenApiError> {
    let value = p.required(param)?;
    let valid = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if !valid {
        return Err(OpenApiError::invalid(param));
    }
    Ok(value.to_owned())
}

fn optional_user(p: &Params) -> Result<Option<String>, OpenApiError> {
    match p.optional("UserName")? {
        None | Some("") => Ok(None),
        Some(_) => name(p, "UserName", MAX_USER_NAME).map(Some),
    }
}

/// Only custom policies exist here; naming the system type finds nothing.
fn custom_type(p: &Params) -> Result<(), OpenApiError> {
    match p.optional("PolicyType")? {
        None | Some("Custom") => Ok(()),
        Some("System") => Err(entity_not_exist("Policy")),
        Some(_) => Err(OpenApiError::invalid("PolicyType")),
    }
}

impl RamOperation {
    /// Parses RAM action `action` with `params`.
    pub fn parse(action: &str, p: &Params) -> Result<Self, OpenApiError> {
        let user = |p: &Params| name(p, "UserName", MAX_USER_NAME);
        let policy = |p: &Params| name(p, "PolicyName", MAX_POLICY_NAME);
        Ok(match action {
            "CreateUser" => Self::CreateUser(user(p)?),
            "GetUser" => Self::GetUser(user(p)?),
            "ListUsers" => Self::ListUsers,
            "DeleteUser" => Self::DeleteUser(user(p)?),
            "CreateAccessKey" => Self::CreateAccessKey(optional_user(p)?),
            "ListAccessKeys" => Self::ListAccessKeys(optional_user(p)?),
            "UpdateAccessKey" => {
                let status = match p.required("Status")? {
                    "Active" => AccessKeyStatus::Active,
                    "Inactive" => AccessKeyStatus::Inactive,
                    _ => return Err(OpenApiError::invalid("Status")),
                };
                Self::UpdateAccessKey(
                    optional_user(p)?,
                    p.required("UserAccessKeyId")?.to_owned(),
                    status,
                )
            }
            "DeleteAccessKey" => {
                Self::DeleteAccessKey(optional_user(p)?, p.required("UserAccessKeyId")?.to_owned())
            }
            "CreatePolicy" => Self::CreatePolicy(policy(p)?, p.required("PolicyDocument")?.to_owned()),
            "GetPolicy" => {
                custom_type(p)?;
                Self::GetPolicy(policy(p)?)
            }
            "ListPolicies" => {
                custom_type(p)?;
                Self::ListPolicies
            }
            "DeletePolicy" => Self::DeletePolicy(policy(p)?),
            "AttachPolicyToUser" => {
                custom_type(p)?;
                Self::AttachPolicyToUser(policy(p)?, user(p)?)
            }
            "DetachPolicyFromUser" => {
                custom_type(p)?;
                Self::DetachPolicyFromUser(policy(p)?, user(p)?)
            }
            "ListPoliciesForUser" => Self::ListPoliciesForUser(user(p)?),
            _ => return Err(OpenApiError::InvalidAction),
        })
    }

    /// The RAM action a policy must allow (`ram:CreateUser`).
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreateUser(_) => "ram:CreateUser",
            Self::GetUser(_) => "ram:GetUser",
            Self::ListUsers => "ram:ListUsers",
            Self::DeleteUser(_) => "ram:DeleteUser",
            Self::CreateAccessKey(_) => "ram:CreateAccessKey",
            Self::ListAccessKeys(_) => "ram:ListAccessKeys",
            Self::UpdateAccessKey(..) => "ram:UpdateAccessKey",
            Self::DeleteAccessKey(..) => "ram:DeleteAccessKey",
            Self::CreatePolicy(..) => "ram:CreatePolicy",
            Self::GetPolicy(_) => "ram:GetPolicy",
            Self::ListPolicies => "ram:ListPolicies",
            Self::DeletePolicy(_) => "ram:DeletePolicy",
            Self::AttachPolicyToUser(..) => "ram:AttachPolicyToUser",
            Self::DetachPolicyFromUser(..) => "ram:DetachPolicyFromUser",
            Self::ListPoliciesForUser(_) => "ram:ListPoliciesForUser",
        }
    }
}

fn entity_not_exist(what: &str) -> OpenApiError {
    let code = match what {
        "User" => "EntityNotExist.User",
        "Policy" => "EntityNotExist.Policy",
        _ => "EntityNotExist.User.AccessKey",
    };
    OpenApiError::Ram {
        code,
        status: 404,
        message: format!("The {} does not exist.", what.to_lowercase().replace('.', " ")),
    }
}

fn already_exists(what: &str) -> OpenApiError {
    let code = match what {
        "User" => "EntityAlreadyExists.User",
        _ => "EntityAlreadyExists.Policy",
    };
    OpenApiError::Ram {
        code,
        status: 409,
        message: format!("The {} already exists.", what.to_lowercase()),
    }
}

/// A metadata-service error as RAM states it.
fn meta_error(e: MetaError) -> OpenApiError {
    match e {
        MetaError::NoSuchUser => entity_not_exist("User"),
        MetaError::NoSuchPolicy => entity_not_exist("Policy"),
        MetaError::NoSuchAccessKey => entity_not_exist("User.AccessKey"),
        MetaError::MalformedPolicy(message) => OpenApiError::Ram {
            code: "MalformedPolicyDocument",
            status: 400,
            message,
        },
        MetaError::Conflict(message) => OpenApiError::Ram {
            code: "DeleteConflict",
            status: 409,
            message,
        },
        MetaError::InvalidArgument(message) => OpenApiError::InvalidParameter(message),
        MetaError::Unavailable(_) => OpenApiError::Unavailable,
        other => {
            tracing::error!(error = %other, "RAM action failed in the metadata service");
            OpenApiError::Internal
        }
    }
}

fn user_json(u: &User) -> Value {
    json!({
        "UserId": format!("{}:{}", u.account_id, u.name),
        "UserName": u.name,
        "DisplayName": u.name,
        "CreateDate": iso_time(ms_to_secs(u.created_ms)),
    })
}

fn key_json(k: &AccessKey) -> Value {
    json!({
        "AccessKeyId": k.id,
        "Status": match k.status { AccessKeyStatus::Active => "Active", AccessKeyStatus::Inactive => "Inactive" },
        "CreateDate": iso_time(ms_to_secs(k.created_ms)),
    })
}

fn policy_json(p: &Policy) -> Value {
    json!({
        "PolicyName": p.name,
        "PolicyType": "Custom",
        "Description": "",
        "DefaultVersion": "v1",
        "CreateDate": iso_time(ms_to_secs(p.created_ms)),
    })
}

fn ms_to_secs(ms: u64) -> i64 {
    i64::try_from(ms / 1000).unwrap_or(i64::MAX)
}

fn object(v: Value) -> Answer {
    match v {
        Value::Object(map) => map,
        _ => Answer::new(),
    }
}

/// Runs `op` for `caller`: RAM decides first, then the metadata service (identity) and, to seal a new
/// access key's secret, the crypto service session `kms`.
pub(crate) async fn execute(
    meta: &dyn IdentityStore,
    kms: &dyn KmsApi,
    caller: &Caller,
    op: RamOperation,
) -> Result<Answer, OpenApiError> {
    let account = caller.account().as_str().to_owned();
    let users = format!("acs:ram:*:{account}:user");
    let policies = format!("acs:ram:*:{account}:policy");
    // The user an access-key action is about: the one named, else the caller itself.
    let key_owner = |named: &Option<String>| named.clone().or_else(|| caller.user().map(str::to_owned));
    let owner_arn = |owner: &Option<String>| match owner {
        Some(user) => format!("{users}/{user}"),
        None => format!("acs:ram:*:{account}:root"),
    };
    match &op {
        RamOperation::ListUsers => caller.authorize(op.action(), &format!("{users}/*"))?,
        RamOperation::ListPolicies => caller.authorize(op.action(), &format!("{policies}/*"))?,
        RamOperation::CreateUser(u)
        | RamOperation::GetUser(u)
        | RamOperation::DeleteUser(u)
        | RamOperation::ListPoliciesForUser(u) => caller.authorize(op.action(), &format!("{users}/{u}"))?,
        RamOperation::CreateAccessKey(u)
        | RamOperation::ListAccessKeys(u)
        | RamOperation::UpdateAccessKey(u, ..)
        | RamOperation::DeleteAccessKey(u, ..) => caller.authorize(op.action(), &owner_arn(&key_owner(u)))?,
        RamOperation::CreatePolicy(p, _) | RamOperation::GetPolicy(p) | RamOperation::DeletePolicy(p) => {
            caller.authorize(op.action(), &format!("{policies}/{p}"))?;
        }
        RamOperation::AttachPolicyToUser(p, u) | RamOperation::DetachPolicyFromUser(p, u) => {
            caller.authorize(op.action(), &format!("{policies}/{p}"))?;
            caller.authorize(op.action(), &format!("{users}/{u}"))?;
        }
    }
    Ok(match op {
        RamOperation::CreateUser(name) => match meta.create_user(&account, &name).await {
            Ok(user) => object(json!({ "User": user_json(&user) })),
            Err(MetaError::AlreadyExists(_)) => return Err(already_exists("User")),
            Err(e) => return Err(meta_error(e)),
        },
        RamOperation::GetUser(name) => {
            let user = find_user(meta, &account, &name).await?;
            object(json!({ "User": user_json(&user) }))
        }
        RamOperation::ListUsers => {
            let users = meta.list_users(&account).await.map_err(meta_error)?;
            let items: Vec<Value> = users.iter().map(user_json).collect();
            object(json!({ "IsTruncated": false, "Users": { "User": items } }))
        }
        RamOperation::DeleteUser(name) => {
            find_user(meta, &account, &name).await?;
            meta.delete_user(&account, &name).await.map_err(meta_error)?;
            Answer::new()
        }
        RamOperation::CreateAccessKey(named) => {
            let owner = key_owner(&named);
            if let Some(user) = &owner {
                find_user(meta, &account, user).await?;
                let held = meta
                    .list_access_keys(&account, Some(user))
                    .await
                    .map_err(meta_error)?;
                if held.len() >= MAX_KEYS_PER_USER {
                    return Err(OpenApiError::Ram {
                        code: "LimitExceeded.User.AccessKey",
                        status: 409,
                        message: format!("A user holds at most {MAX_KEYS_PER_USER} access keys."),
                    });
                }
            }
            let created = create_access_key(kms, meta, &account, owner.as_deref())
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "creating an access key failed");
                    OpenApiError::Unavailable
                })?;
            let key = meta
                .get_access_key(&created.access_key_id)
                .await
                .map_err(meta_error)?;
            let mut shown = key_json(&key);
            if let Value::Object(map) = &mut shown {
                map.insert(
                    "AccessKeySecret".into(),
                    Value::String(created.access_key_secret.to_string()),
                );
            }
            object(json!({ "AccessKey": shown }))
        }
        RamOperation::ListAccessKeys(named) => {
            let owner = key_owner(&named);
            if let Some(user) = &owner {
                find_user(meta, &account, user).await?;
            }
            let keys = meta
                .list_access_keys(&account, owner.as_deref())
                .await
                .map_err(meta_error)?;
            // The account's own listing (no user) holds only its root keys.
            let items: Vec<Value> = keys.iter().filter(|k| k.user == owner).map(key_json).collect();
            object(json!({ "AccessKeys": { "AccessKey": items } }))
        }
        RamOperation::UpdateAccessKey(named, id, status) => {
            owned_key(meta, &account, &key_owner(&named), &id).await?;
            meta.set_access_key_status(&id, status)
                .await
                .map_err(meta_error)?;
            Answer::new()
        }
        RamOperation::DeleteAccessKey(named, id) => {
            owned_key(meta, &account, &key_owner(&named), &id).await?;
            meta.delete_access_key(&id).await.map_err(meta_error)?;
            Answer::new()
        }
        RamOperation::CreatePolicy(name, document) => {
            match meta.get_policy(&account, &name).await {
                Ok(_) => return Err(already_exists("Policy")),
                Err(MetaError::NoSuchPolicy) => {}
                Err(e) => return Err(meta_error(e)),
            }
            let policy = meta
                .put_policy(&account, &name, &document)
                .await
                .map_err(meta_error)?;
            object(json!({ "Policy": policy_json(&policy) }))
        }
        RamOperation::GetPolicy(name) => {
            let policy = meta.get_policy(&account, &name).await.map_err(meta_error)?;
            object(json!({
                "Policy": policy_json(&policy),
                "DefaultPolicyVersion": {
                    "VersionId": "v1",
                    "IsDefaultVersion": true,
                    "PolicyDocument": policy.document,
                    "CreateDate": iso_time(ms_to_secs(policy.created_ms)),
                },
            }))
        }
        RamOperation::ListPolicies => {
            let all = meta.list_policies(&account).await.map_err(meta_error)?;
            let items: Vec<Value> = all.iter().map(policy_json).collect();
            object(json!({ "IsTruncated": false, "Policies": { "Policy": items } }))
        }
        RamOperation::DeletePolicy(name) => {
            meta.delete_policy(&account, &name).await.map_err(meta_error)?;
            Answer::new()
        }
        RamOperation::AttachPolicyToUser(policy, user) => {
            find_user(meta, &account, &user).await?;
            meta.attach_policy(&account, &user, &policy)
                .await
                .map_err(meta_error)?;
            Answer::new()
        }
        RamOperation::DetachPolicyFromUser(policy, user) => {
            find_user(meta, &account, &user).await?;
            meta.detach_policy(&account, &user, &policy)
                .await
                .map_err(meta_error)?;
            Answer::new()
        }
        RamOperation::ListPoliciesForUser(user) => {
            find_user(meta, &account, &user).await?;
            let all = meta.user_policies(&account, &user).await.map_err(meta_error)?;
            let items: Vec<Value> = all.iter().map(policy_json).collect();
            object(json!({ "Policies": { "Policy": items } }))
        }
    })
}

async fn find_user(meta: &dyn IdentityStore, account: &str, name: &str) -> Result<User, OpenApiError> {
    let users = meta.list_users(account).await.map_err(meta_error)?;
    users
        .into_iter()
        .find(|u| u.name == name)
        .ok_or_else(|| entity_not_exist("User"))
}

/// The access key `id`, if it belongs to `owner` (a user of `account`, or its root) — else it does not
/// exist for this caller.
async fn owned_key(
    meta: &dyn IdentityStore,
    account: &str,
    owner: &Option<String>,
    id: &str,
) -> Result<AccessKey, OpenApiError> {
    match meta.get_access_key(id).await {
        Ok(key) if key.account_id == account && key.user == *owner => Ok(key),
        Ok(_) | Err(MetaError::NoSuchAccessKey) => Err(entity_not_exist("User.AccessKey")),
        Err(e) => Err(meta_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        Params {
            query: crate::params::Pairs::parse(query).unwrap_or_else(|e| panic!("{e}")),
            form: crate::params::Pairs::default(),
        }
    }

    #[test]
    fn actions_parse_with_their_parameters() {
        assert_eq!(
            RamOperation::parse("CreateUser", &params("UserName=alice")),
            Ok(RamOperation::CreateUser("alice".into()))
        );
        assert_eq!(
            RamOperation::parse(
                "UpdateAccessKey",
                &params("UserAccessKeyId=LTAI1&Status=Inactive")
            ),
            Ok(RamOperation::UpdateAccessKey(
                None,
                "LTAI1".into(),
                AccessKeyStatus::Inactive
            ))
        );
        assert!(RamOperation::parse("UpdateAccessKey", &params("UserAccessKeyId=LTAI1&Status=Off")).is_err());
        assert!(RamOperation::parse("CreateUser", &params("UserName=a%2Fb")).is_err());
        assert!(RamOperation::parse("CreateUser", &params("")).is_err());
        assert!(matches!(
            RamOperation::parse("GetPolicy", &params("PolicyName=p&PolicyType=System")),
            Err(OpenApiError::Ram { .. })
        ));
        assert_eq!(
            RamOperation::parse("Nope", &params("")),
            Err(OpenApiError::InvalidAction)
        );
    }

    #[test]
    fn every_action_names_its_ram_permission() {
        let op = RamOperation::AttachPolicyToUser("p".into(), "u".into());
        assert_eq!(op.action(), "ram:AttachPolicyToUser");
        assert_eq!(RamOperation::ListUsers.action(), "ram:ListUsers");
    }
}
