//! gRPC client adapter, identity half: implements [`IdentityStore`] for [`MetaGrpcClient`].

use async_trait::async_trait;
use cang_proto::cang::meta::v1 as pb;

use crate::convert_identity::status_to_pb;
use crate::{
    AccessKey, AccessKeyStatus, Account, IdentityStore, MetaError, MetaGrpcClient, NewAccessKey, Policy, User,
};

fn user_ref(account_id: &str, user: &str) -> pb::UserRef {
    pb::UserRef {
        account_id: account_id.to_owned(),
        user: user.to_owned(),
    }
}

fn attachment(account_id: &str, user: &str, policy: &str) -> pb::AttachmentRef {
    pb::AttachmentRef {
        account_id: account_id.to_owned(),
        user: user.to_owned(),
        policy: policy.to_owned(),
    }
}

#[async_trait]
impl IdentityStore for MetaGrpcClient {
    async fn create_account(&self, account_id: &str, name: &str) -> Result<Account, MetaError> {
        let msg = pb::CreateAccountRequest {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
        };
        Ok(self
            .client()
            .create_account(self.unary(msg))
            .await?
            .into_inner()
            .into())
    }

    async fn get_account(&self, account_id: &str) -> Result<Account, MetaError> {
        let msg = pb::AccountRef {
            account_id: account_id.to_owned(),
        };
        Ok(self
            .client()
            .get_account(self.unary(msg))
            .await?
            .into_inner()
            .into())
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, MetaError> {
        let r = self
            .client()
            .list_accounts(self.unary(pb::Empty {}))
            .await?
            .into_inner();
        Ok(r.accounts.into_iter().map(Into::into).collect())
    }

    async fn create_user(&self, account_id: &str, user: &str) -> Result<User, MetaError> {
        Ok(self
            .client()
            .create_user(user_ref(account_id, user))
            .await?
            .into_inner()
            .into())
    }

    async fn list_users(&self, account_id: &str) -> Result<Vec<User>, MetaError> {
        let msg = pb::AccountRef {
            account_id: account_id.to_owned(),
        };
        let r = self.client().list_users(self.unary(msg)).await?.into_inner();
        Ok(r.users.into_iter().map(Into::into).collect())
    }

    async fn delete_user(&self, account_id: &str, user: &str) -> Result<(), MetaError> {
        self.client()
            .delete_user(self.unary(user_ref(account_id, user)))
            .await?;
        Ok(())
    }

    async fn create_access_key(&self, new: NewAccessKey) -> Result<AccessKey, MetaError> {
        let msg = pb::CreateAccessKeyRequest {
            access_key_id: new.id,
            account_id: new.account_id,
            user: new.user,
            sealed_secret: new.sealed_secret.as_bytes().to_vec(),
        };
        self.client()
            .create_access_key(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn get_access_key(&self, access_key_id: &str) -> Result<AccessKey, MetaError> {
        let msg = pb::AccessKeyRef {
            access_key_id: access_key_id.to_owned(),
        };
        self.client()
            .get_access_key(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_access_keys(
        &self,
        account_id: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKey>, MetaError> {
        let msg = pb::ListAccessKeysRequest {
            account_id: account_id.to_owned(),
            user: user.map(str::to_owned),
        };
        let r = self
            .client()
            .list_access_keys(self.unary(msg))
            .await?
            .into_inner();
        r.access_keys.into_iter().map(TryInto::try_into).collect()
    }

    async fn set_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<AccessKey, MetaError> {
        let msg = pb::SetAccessKeyStatusRequest {
            access_key_id: access_key_id.to_owned(),
            status: status_to_pb(status),
        };
        self.client()
            .set_access_key_status(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<(), MetaError> {
        let msg = pb::AccessKeyRef {
            access_key_id: access_key_id.to_owned(),
        };
        self.client().delete_access_key(self.unary(msg)).await?;
        Ok(())
    }

    async fn put_policy(&self, account_id: &str, name: &str, document: &str) -> Result<Policy, MetaError> {
        let msg = pb::PutPolicyRequest {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            document: document.to_owned(),
        };
        Ok(self
            .client()
            .put_policy(self.unary(msg))
            .await?
            .into_inner()
            .into())
    }

    async fn get_policy(&self, account_id: &str, name: &str) -> Result<Policy, MetaError> {
        let msg = pb::PolicyRef {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
        };
        Ok(self
            .client()
            .get_policy(self.unary(msg))
            .await?
            .into_inner()
            .into())
    }

    async fn list_policies(&self, account_id: &str) -> Result<Vec<Policy>, MetaError> {
        let msg = pb::AccountRef {
            account_id: account_id.to_owned(),
        };
        let r = self.client().list_policies(self.unary(msg)).await?.into_inner();
        Ok(r.policies.into_iter().map(Into::into).collect())
    }

    async fn delete_policy(&self, account_id: &str, name: &str) -> Result<(), MetaError> {
        let msg = pb::PolicyRef {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
        };
        self.client().delete_policy(self.unary(msg)).await?;
        Ok(())
    }

    async fn attach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError> {
        self.client()
            .attach_policy(self.unary(attachment(account_id, user, policy)))
            .await?;
        Ok(())
    }

    async fn detach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError> {
        self.client()
            .detach_policy(self.unary(attachment(account_id, user, policy)))
            .await?;
        Ok(())
    }

    async fn user_policies(&self, account_id: &str, user: &str) -> Result<Vec<Policy>, MetaError> {
        let r = self
            .client()
            .list_user_policies(user_ref(account_id, user))
            .await?
            .into_inner();
        Ok(r.policies.into_iter().map(Into::into).collect())
    }

    async fn revoke_console_session(&self, id: [u8; 16], until_ms: u64) -> Result<(), MetaError> {
        let msg = pb::ConsoleSession {
            id: bytes::Bytes::copy_from_slice(&id),
            until_ms,
        };
        self.client().revoke_console_session(self.unary(msg)).await?;
        Ok(())
    }

    async fn console_session_revoked(&self, id: [u8; 16]) -> Result<bool, MetaError> {
        let msg = pb::ConsoleSessionRef {
            id: bytes::Bytes::copy_from_slice(&id),
        };
        let state = self
            .client()
            .console_session_revoked(self.unary(msg))
            .await?
            .into_inner();
        Ok(state.revoked)
    }
}
