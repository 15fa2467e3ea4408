//! The conformance suite: every case of `cases/` runs over each implementation of `KmsApi` (the
//! keyring in process, the gRPC client against a real server over mutual TLS, and `MemoryKms`), so
//! the in-memory double callers test against refuses what the real service refuses, with the same
//! `KmsError`, and the gRPC hop changes nothing.

#[path = "../common/mod.rs"]
mod common;

mod cases;
mod subjects;

/// A test per case and implementation, named `<implementation>::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod keyring {
            $(#[tokio::test]
            async fn $case() -> anyhow::Result<()> {
                crate::cases::$case(&crate::subjects::keyring().await?).await
            })*
        }
        mod grpc {
            $(#[tokio::test]
            async fn $case() -> anyhow::Result<()> {
                crate::cases::$case(&crate::subjects::grpc().await?).await
            })*
        }
        mod memory {
            $(#[tokio::test]
            async fn $case() -> anyhow::Result<()> {
                crate::cases::$case(&crate::subjects::memory().await?).await
            })*
        }
    };
}

conformance!(
    data_key_round_trip,
    wrong_context_is_refused,
    invalid_arguments_are_refused_alike,
    disabled_key_refuses_use,
    pending_deletion_refuses_use_until_cancelled,
    deletion_window_end_removes_the_key,
    unknown_keys_and_aliases,
    alias_create_update_delete,
    rotation_and_re_encrypt,
    rotation_policy_rules,
    default_oss_alias_is_created_on_first_use,
    other_accounts_keys_are_invisible,
    service_data_keys,
    byok_import_lifecycle,
    list_keys_pages_in_creation_order,
    maintenance_rotates_and_purges,
    tags_are_kept_per_key,
);
