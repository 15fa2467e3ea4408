//! The metadata service as seen by one caller: authorisation by certificate identity, then the
//! service call. Accounts are the admin's; the gateway gets the object store and the three identity
//! reads that authenticate a request (access key, its user's policies, the readiness probe's account
//! lookup); the users, access keys and policies within an account are the admin's and the crypto
//! service's, whose RAM API lets an account's root (or a RAM user its policies allow) manage them.

use async_trait::async_trait;
use bytes::Bytes;
use cang_meta_api::{
    AccessKey, AccessKeyStatus, Account, Acl, AppendObjectHeader, Bucket, BucketEncryptionRule, BucketStats,
    ByteStream, CiphertextRange, CompletedPart, CopyObjectRequest, DeleteOutcome, IdentityStore,
    InventoryEntry, InventoryQuery, ListBucketsPage, ListBucketsQuery, ListObjectsPage, ListObjectsQuery,
    ListPartsPage, ListUploadsPage, ListUploadsQuery, MetaError, MetaForCaller, MultipartUpload,
    NewAccessKey, NewBucket, ObjectInfo, ObjectLookup, ObjectMeta, ObjectStore, PartInfo, Policy,
    Preconditions, PutObjectHeader, RewrapObject, RewrapOutcome, UploadPartHeader, User, WriteBody,
};
use cang_tls::ServiceIdentity;

use crate::MetaService;

/// The operation classes of the authorisation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationClass {
    /// Buckets, objects, multipart uploads: gateway and admin.
    Store,
    /// The identity reads that authenticate a request: gateway and admin.
    Authenticate,
    /// The list of accounts: admin only.
    IdentityRead,
    /// Creating accounts: admin only.
    IdentityWrite,
    /// Users, access keys, policies and attachments within an account, read and written: admin, and the
    /// crypto service, whose RAM API authorises each call against the calling account's root or RAM user
    /// first (it already opens every access key's secret, so this widens no trust).
    AccountIdentity,
    /// Key maintenance (the inventory, re-wrapping data keys in place): admin, and the gateway, which runs
    /// maintenance jobs for the admin. A swap needs the wrapped key it replaces, so it can never put
    /// back a key that was overwritten; the gateway can already rewrite any object outright.
    Maintenance,
    /// A copy of the whole store (`cang admin backup`): admin only.
    Backup,
    /// Signed-out web console sessions: the gateways that serve the console, and admin.
    ConsoleSessions,
}

impl OperationClass {
    /// Whether `caller` may run operations of this class.
    pub(crate) fn allows(self, caller: ServiceIdentity) -> bool {
        matches!(
            (caller, self),
            (ServiceIdentity::Admin, _)
                | (
                    ServiceIdentity::Gateway,
                    OperationClass::Store
                        | OperationClass::Authenticate
                        | OperationClass::Maintenance
                        | OperationClass::ConsoleSessions
                )
                // The crypto service's OpenAPI authenticates its callers' access keys, and its RAM API
                // manages the identities within the caller's account.
                | (
                    ServiceIdentity::Kms,
                    OperationClass::Authenticate | OperationClass::AccountIdentity
                )
        )
    }
}

impl MetaForCaller for MetaService {
    type Api = MetaSession;

    fn for_caller(&self, caller: ServiceIdentity) -> MetaSession {
        MetaSession {
            service: self.clone(),
            caller,
        }
    }
}

/// A [`MetaApi`](cang_meta_api::MetaApi) acting for one caller: refuses with [`MetaError::NotPermitted`] what the caller's
/// identity may not do, before the store is touched.
#[derive(Debug, Clone)]
pub struct MetaSession {
    service: MetaService,
    caller: ServiceIdentity,
}

impl MetaSession {
    /// The identity this session acts for.
    pub fn caller(&self) -> ServiceIdentity {
        self.caller
    }

    fn check(&self, class: OperationClass, operation: &'static str) -> Result<(), MetaError> {
        if class.allows(self.caller) {
            return Ok(());
        }
        tracing::warn!(caller = %self.caller, operation, "metadata operation refused for this caller");
        Err(MetaError::NotPermitted(operation.to_owned()))
    }
}

/// Implements one half of [`MetaApi`](cang_meta_api::MetaApi) for [`MetaSession`]: each method names its class, is checked, then forwarded
/// to the service. Generating the whole impl (not just its items) lets `async_trait` see the methods, and
/// the trait still makes sure none is missing.
macro_rules! checked_api {
    ($api:ident { $($class:ident fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $api for MetaSession {
            $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$ret, MetaError> {
                    self.check(OperationClass::$class, stringify!($name))?;
                    self.service.$name($($arg),*).await
                }
            )*
        }
    };
}

checked_api! { ObjectStore {
    Store fn create_bucket(new: NewBucket) -> Bucket;
    Store fn get_bucket(bucket: &str) -> Bucket;
    Store fn list_buckets(query: ListBucketsQuery) -> ListBucketsPage;
    Store fn delete_bucket(bucket: &str) -> ();
    Store fn set_bucket_encryption(bucket: &str, rule: Option<BucketEncryptionRule>) -> Bucket;
    Store fn set_bucket_acl(bucket: &str, acl: Acl) -> ();
    Store fn bucket_stats(bucket: &str) -> BucketStats;
    Store fn put_object(header: PutObjectHeader, body: WriteBody) -> ObjectInfo;
    Store fn append_object(header: AppendObjectHeader, body: WriteBody) -> ObjectInfo;
    Store fn head_object(bucket: &str, key: &str) -> ObjectInfo;
    Store fn get_small_object(
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions,
        max_bytes: u32
    ) -> (ObjectInfo, Option<Bytes>);
    Store fn lookup_object(
        bucket: &str,
        key: &str,
        window: Option<CiphertextRange>,
        max_bytes: u32
    ) -> ObjectLookup;
    Store fn read_object(
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions
    ) -> (ObjectInfo, ByteStream);
    Store fn delete_objects(bucket: &str, keys: Vec<String>) -> Vec<DeleteOutcome>;
    Store fn copy_object(request: CopyObjectRequest) -> ObjectInfo;
    Store fn list_objects(bucket: &str, query: ListObjectsQuery) -> ListObjectsPage;
    Store fn initiate_upload(bucket: &str, key: &str, meta: ObjectMeta) -> MultipartUpload;
    Store fn upload_part(header: UploadPartHeader, body: WriteBody) -> PartInfo;
    Store fn get_upload(bucket: &str, key: &str, upload_id: &str) -> MultipartUpload;
    Store fn list_parts(
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: u32,
        max_parts: u32
    ) -> ListPartsPage;
    Store fn list_uploads(bucket: &str, query: ListUploadsQuery) -> ListUploadsPage;
    Store fn complete_upload(
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        forbid_overwrite: bool
    ) -> ObjectInfo;
    Store fn abort_upload(bucket: &str, key: &str, upload_id: &str) -> ();
    Maintenance fn key_inventory(query: InventoryQuery) -> Vec<InventoryEntry>;
    Maintenance fn rewrap_object(request: RewrapObject) -> RewrapOutcome;
    Backup fn snapshot() -> ByteStream;
}}

checked_api! { IdentityStore {
    IdentityWrite fn create_account(account_id: &str, name: &str) -> Account;
    Authenticate fn get_account(account_id: &str) -> Account;
    IdentityRead fn list_accounts() -> Vec<Account>;
    AccountIdentity fn create_user(account_id: &str, user: &str) -> User;
    AccountIdentity fn list_users(account_id: &str) -> Vec<User>;
    AccountIdentity fn delete_user(account_id: &str, user: &str) -> ();
    AccountIdentity fn create_access_key(new: NewAccessKey) -> AccessKey;
    Authenticate fn get_access_key(access_key_id: &str) -> AccessKey;
    AccountIdentity fn list_access_keys(account_id: &str, user: Option<&str>) -> Vec<AccessKey>;
    AccountIdentity fn set_access_key_status(access_key_id: &str, status: AccessKeyStatus) -> AccessKey;
    AccountIdentity fn delete_access_key(access_key_id: &str) -> ();
    AccountIdentity fn put_policy(account_id: &str, name: &str, document: &str) -> Policy;
    AccountIdentity fn get_policy(account_id: &str, name: &str) -> Policy;
    AccountIdentity fn list_policies(account_id: &str) -> Vec<Policy>;
    AccountIdentity fn delete_policy(account_id: &str, name: &str) -> ();
    AccountIdentity fn attach_policy(account_id: &str, user: &str, policy: &str) -> ();
    AccountIdentity fn detach_policy(account_id: &str, user: &str, policy: &str) -> ();
    Authenticate fn user_policies(account_id: &str, user: &str) -> Vec<Policy>;
    ConsoleSessions fn revoke_console_session(id: [u8; 16], until_ms: u64) -> ();
    ConsoleSessions fn console_session_revoked(id: [u8; 16]) -> bool;
}}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use OperationClass::*;
        use ServiceIdentity::*;
        // (class, gateway, admin, kms, meta)
        let table = [
            (Store, true, true, false, false),
            (Authenticate, true, true, true, false),
            (IdentityRead, false, true, false, false),
            (IdentityWrite, false, true, false, false),
            (AccountIdentity, false, true, true, false),
            (Maintenance, true, true, false, false),
            (Backup, false, true, false, false),
            (ConsoleSessions, true, true, false, false),
        ];
        for (class, gateway, admin, kms, meta) in table {
            assert_eq!(class.allows(Gateway), gateway, "{class:?} gateway");
            assert_eq!(class.allows(Admin), admin, "{class:?} admin");
            assert_eq!(class.allows(Kms), kms, "{class:?} kms");
            assert_eq!(class.allows(Meta), meta, "{class:?} meta");
        }
    }

    #[test]
    fn kms_may_only_authenticate_and_manage_identities_within_accounts() {
        use OperationClass::*;
        for class in [
            Store,
            IdentityRead,
            IdentityWrite,
            Maintenance,
            Backup,
            ConsoleSessions,
        ] {
            assert!(!class.allows(ServiceIdentity::Kms), "{class:?}");
        }
        assert!(Authenticate.allows(ServiceIdentity::Kms));
        assert!(AccountIdentity.allows(ServiceIdentity::Kms));
        assert!(!AccountIdentity.allows(ServiceIdentity::Gateway));
    }
}
