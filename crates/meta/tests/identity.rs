//! Identities: accounts, users, access keys with sealed secrets, policies and attachments.

mod support;

use cang_meta_api::{AccessKeyStatus, MetaError, NewAccessKey, SealedSecret};
use support::store;

const POLICY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],"Resource":"acs:oss:*:1001:bkt/*"}]}"#;

#[test]
fn access_keys_are_found_by_id_and_follow_their_user() {
    let (_d, s) = store();
    assert_eq!(
        s.create_user("1001", "alice").err(),
        Some(MetaError::NoSuchAccount)
    );
    s.create_account("1001", "acme").unwrap();
    assert!(matches!(
        s.create_account("1001", "again"),
        Err(MetaError::AlreadyExists(_))
    ));
    s.create_user("1001", "alice").unwrap();
    let new = |id: &str, user: Option<&str>| NewAccessKey {
        id: id.into(),
        account_id: "1001".into(),
        user: user.map(Into::into),
        sealed_secret: SealedSecret::new(vec![0xAA; 48]),
    };
    s.create_access_key(new("LTAIroot", None)).unwrap();
    s.create_access_key(new("LTAIalice", Some("alice"))).unwrap();
    assert_eq!(
        s.create_access_key(new("LTAIbob", Some("bob"))).err(),
        Some(MetaError::NoSuchUser)
    );
    let key = s.get_access_key("LTAIalice").unwrap();
    assert_eq!(
        (key.user.as_deref(), key.status, key.sealed_secret.as_bytes()),
        (Some("alice"), AccessKeyStatus::Active, &[0xAA; 48][..])
    );
    assert_eq!(
        s.set_access_key_status("LTAIalice", AccessKeyStatus::Inactive)
            .unwrap()
            .status,
        AccessKeyStatus::Inactive
    );
    assert_eq!(s.list_access_keys("1001", None).unwrap().len(), 2);
    assert_eq!(s.list_access_keys("1001", Some("alice")).unwrap().len(), 1);
    s.delete_user("1001", "alice").unwrap();
    assert_eq!(
        s.get_access_key("LTAIalice").err(),
        Some(MetaError::NoSuchAccessKey)
    );
    assert!(s.get_access_key("LTAIroot").is_ok());
}

#[test]
fn policies_are_validated_attached_and_protected_while_attached() {
    let (_d, s) = store();
    s.create_account("1001", "acme").unwrap();
    s.create_user("1001", "alice").unwrap();
    for bad in [
        "not json",
        "[]",
        r#"{"Statement":[]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Maybe","Action":"a","Resource":"r"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"r"}]}"#,
    ] {
        assert!(
            matches!(s.put_policy("1001", "p", bad), Err(MetaError::MalformedPolicy(_))),
            "{bad}"
        );
    }
    s.put_policy("1001", "read", POLICY).unwrap();
    assert_eq!(
        s.attach_policy("1001", "alice", "nope").err(),
        Some(MetaError::NoSuchPolicy)
    );
    s.attach_policy("1001", "alice", "read").unwrap();
    assert_eq!(s.user_policies("1001", "alice").unwrap()[0].document, POLICY);
    assert!(matches!(
        s.delete_policy("1001", "read"),
        Err(MetaError::Conflict(_))
    ));
    s.detach_policy("1001", "alice", "read").unwrap();
    s.delete_policy("1001", "read").unwrap();
    assert!(s.list_policies("1001").unwrap().is_empty());
    assert!(s.user_policies("1001", "alice").unwrap().is_empty());
}
