//! `cang admin` against a real `cang up`: CMK create/describe round trip, the BYOK import flow end to end
//! through files, and RAM users, access keys and policies.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Up, admin, admin_json, free_port, signed_list_buckets};

fn text(v: &serde_json::Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_owned()
}

#[test]
fn cmk_lifecycle_and_byok_import_round_trip() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let _up = Up::start(&dir, free_port()?, "kms")?;

    let created = admin_json(
        &dir,
        &[
            "kms",
            "create-key",
            "--description",
            "orders",
            "--rotation-interval-days",
            "30",
        ],
    )?;
    let id = text(&created, "KeyId");
    assert!(!id.is_empty(), "{created}");
    assert_eq!(text(&created, "KeyState"), "Enabled");
    let described = admin_json(&dir, &["kms", "describe-key", &id])?;
    assert_eq!(
        described, created,
        "describe-key returns what create-key returned"
    );
    assert_eq!(text(&described, "Description"), "orders");
    assert_eq!(described["RotationIntervalSeconds"], 30 * 86_400);
    let listed = admin_json(&dir, &["kms", "list-keys"])?;
    assert!(
        listed["Keys"]
            .as_array()
            .is_some_and(|keys| keys.iter().any(|k| text(k, "KeyId") == id)),
        "{listed}"
    );

    admin_json(&dir, &["kms", "create-alias", "alias/orders", &id])?;
    assert_eq!(
        text(
            &admin_json(&dir, &["kms", "describe-key", "alias/orders"])?,
            "KeyId"
        ),
        id
    );
    let disabled = admin_json(&dir, &["kms", "disable-key", "alias/orders"])?;
    assert_eq!(text(&disabled, "KeyState"), "Disabled");
    let version = admin_json(&dir, &["kms", "enable-key", &id])?;
    assert_eq!(text(&version, "KeyState"), "Enabled");
    let rotated = admin_json(&dir, &["kms", "rotate-key", &id])?;
    let versions = admin_json(&dir, &["kms", "list-key-versions", &id])?;
    let versions = versions["KeyVersions"].as_array().cloned().unwrap_or_default();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[1]["KeyVersionId"], rotated["KeyVersionId"],
        "newest version last"
    );
    let pending = admin_json(
        &dir,
        &[
            "kms",
            "schedule-key-deletion",
            &id,
            "--pending-window-in-days",
            "7",
        ],
    )?;
    assert_eq!(text(&pending, "KeyState"), "PendingDeletion");
    assert!(pending["DeleteDate"].is_i64());
    let out = admin(
        &dir,
        &[
            "kms",
            "schedule-key-deletion",
            &id,
            "--pending-window-in-days",
            "6",
        ],
    )?;
    assert!(!out.status.success(), "a window under 7 days is refused");
    assert_eq!(
        text(
            &admin_json(&dir, &["kms", "cancel-key-deletion", &id])?,
            "KeyState"
        ),
        "Enabled"
    );

    // BYOK: an EXTERNAL key waits for material; parameters go to files; the material is wrapped offline.
    let external = admin_json(&dir, &["kms", "create-key", "--origin", "EXTERNAL"])?;
    let ext = text(&external, "KeyId");
    assert_eq!(text(&external, "KeyState"), "PendingImport");
    let files = tmp.path();
    let (public, token, material, wrapped) = (
        files.join("wrap.pem"),
        files.join("token.b64"),
        files.join("material.bin"),
        files.join("material.enc.b64"),
    );
    let params = admin_json(
        &dir,
        &[
            "kms",
            "get-parameters-for-import",
            &ext,
            "--public-key-out",
            &public.to_string_lossy(),
            "--token-out",
            &token.to_string_lossy(),
        ],
    )?;
    assert_eq!(text(&params, "KeyId"), ext);
    assert!(std::fs::read_to_string(&public)?.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    std::fs::write(&material, [0x42u8; 32])?;
    std::fs::set_permissions(&material, std::fs::Permissions::from_mode(0o600))?;
    admin_json(
        &dir,
        &[
            "kms",
            "wrap-key-material",
            "--public-key",
            &public.to_string_lossy(),
            "--material",
            &material.to_string_lossy(),
            "--out",
            &wrapped.to_string_lossy(),
        ],
    )?;
    let import = |token_file: &str| {
        admin(
            &dir,
            &[
                "kms",
                "import-key-material",
                &ext,
                "--encrypted-material",
                &wrapped.to_string_lossy(),
                "--token",
                token_file,
                "--json",
            ],
        )
    };
    let forged = files.join("forged.b64");
    std::fs::write(&forged, "Zm9yZ2VkIHRva2Vu\n")?;
    let refused = import(&forged.to_string_lossy())?;
    assert!(!refused.status.success(), "a forged import token is refused");
    assert!(!String::from_utf8_lossy(&refused.stderr).trim().is_empty());
    let imported = import(&token.to_string_lossy())?;
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let imported: serde_json::Value = serde_json::from_slice(&imported.stdout)?;
    assert_eq!(text(&imported, "KeyState"), "Enabled");
    assert_eq!(text(&imported, "Origin"), "EXTERNAL");
    assert!(!text(&imported, "PrimaryKeyVersion").is_empty());
    assert_eq!(
        text(&admin_json(&dir, &["kms", "describe-key", &ext])?, "KeyState"),
        "Enabled"
    );
    let deleted = admin_json(&dir, &["kms", "delete-key-material", &ext])?;
    assert_eq!(text(&deleted, "KeyState"), "PendingImport");

    // Tags: set, changed, removed, listed in key order; bad ones refused before anything is sent.
    let tagged = admin_json(
        &dir,
        &[
            "kms",
            "tag-key",
            &ext,
            "--tag",
            "team=storage",
            "--tag",
            "env=test",
        ],
    )?;
    assert_eq!(tagged["KeyId"], ext.as_str());
    admin_json(&dir, &["kms", "tag-key", &ext, "--tag", "env=prod"])?;
    admin_json(&dir, &["kms", "untag-key", &ext, "--tag-key", "team"])?;
    let listed = admin_json(&dir, &["kms", "list-key-tags", &ext])?;
    assert_eq!(
        listed["Tags"],
        serde_json::json!([{"TagKey": "env", "TagValue": "prod"}])
    );
    assert!(
        !admin(&dir, &["kms", "tag-key", &ext, "--tag", "no-equals-sign"])?
            .status
            .success()
    );
    assert!(
        !admin(&dir, &["kms", "tag-key", &ext, "--tag", "acs:x=1"])?
            .status
            .success()
    );

    // Every administrative call above was audited under the admin identity.
    let audit = admin_json(&dir, &["kms", "audit", "--limit", "1000"])?;
    let ops: Vec<String> = audit
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["principal"] == "admin")
                .map(|r| text(r, "operation"))
                .collect()
        })
        .unwrap_or_default();
    for op in [
        "CreateKey",
        "ImportKeyMaterial",
        "DeleteKeyMaterial",
        "RotateKey",
        "ScheduleKeyDeletion",
    ] {
        assert!(ops.iter().any(|o| o == op), "{op} missing from {ops:?}");
    }
    // Filters: by operation (any case), by key, by principal, by time.
    let filtered = |args: &[&str]| -> anyhow::Result<Vec<serde_json::Value>> {
        let mut all = vec!["kms", "audit", "--limit", "1000"];
        all.extend_from_slice(args);
        Ok(admin_json(&dir, &all)?.as_array().cloned().unwrap_or_default())
    };
    let rotations = filtered(&["--operation", "rotatekey"])?;
    assert!(!rotations.is_empty());
    assert!(
        rotations.iter().all(|r| r["operation"] == "RotateKey"),
        "{rotations:?}"
    );
    let of_ext = filtered(&["--key", &ext])?;
    assert!(!of_ext.is_empty() && of_ext.iter().all(|r| r["key_id"] == ext.as_str()));
    assert!(filtered(&["--principal", "gateway", "--key", &ext])?.is_empty());
    assert!(
        filtered(&["--since", "4102444800"])?.is_empty(),
        "nothing is audited in 2100"
    );
    assert!(filtered(&["--until", "4102444800", "--operation", "CreateKey"])?.len() >= 2);
    let one = admin_json(&dir, &["kms", "audit", "--limit", "1", "--principal", "admin"])?;
    assert_eq!(one.as_array().map(Vec::len), Some(1));

    // The chain verifies; its head is an anchor; a wrong or future anchor fails with a non-zero exit.
    let verified = admin_json(&dir, &["kms", "audit", "verify"])?;
    assert_eq!(verified["intact"], true, "{verified}");
    let head = text(&verified, "head");
    let (seq, mac) = head.split_once(':').unwrap_or_default();
    assert_eq!(mac.len(), 64, "{head}");
    let printed = admin(&dir, &["kms", "audit", "verify", "--anchor", &head])?;
    assert!(printed.status.success());
    let out = String::from_utf8_lossy(&printed.stdout);
    assert!(
        out.starts_with("audit log intact:") && out.contains(&head),
        "{out}"
    );
    let wrong = format!("{seq}:{}", "0".repeat(64));
    let refused = admin(&dir, &["kms", "audit", "verify", "--anchor", &wrong])?;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("record {seq}")),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let future = format!("{}:{mac}", seq.parse::<u64>()? + 1_000_000);
    assert!(
        !admin(&dir, &["kms", "audit", "verify", "--anchor", &future])?
            .status
            .success()
    );
    let malformed = admin(&dir, &["kms", "audit", "verify", "--anchor", "12:zz"])?;
    assert!(!malformed.status.success());
    Ok(())
}

#[test]
fn users_keys_and_policies() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let up = Up::start(&dir, free_port()?, "ram")?;

    admin_json(&dir, &["user", "create", "alice"])?;
    let users = admin_json(&dir, &["user", "list"])?;
    assert_eq!(
        users
            .as_array()
            .map(|u| u.iter().map(|u| text(u, "name")).collect::<Vec<_>>()),
        Some(vec!["alice".to_owned()])
    );

    let key = admin_json(&dir, &["key", "create", "--user", "alice"])?;
    let (id, secret) = (text(&key, "access_key_id"), text(&key, "access_key_secret"));
    assert!(id.starts_with("LTAI") && secret.len() >= 30, "{key}");
    let listed = admin_json(&dir, &["key", "list", "--user", "alice"])?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(
        !listed.to_string().contains(&secret),
        "listings never show secrets"
    );

    // A RAM user with no policy is authenticated but allowed nothing.
    let (status, body) = signed_list_buckets(up.addr, &id, &secret)?;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");

    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:ListBuckets"],"Resource":["acs:oss:*:*:*"]}]}"#,
    )?;
    admin_json(
        &dir,
        &["policy", "put", "list-all", "--file", &policy.to_string_lossy()],
    )?;
    admin_json(&dir, &["policy", "attach", "list-all", "--user", "alice"])?;
    let got = admin_json(&dir, &["policy", "get", "list-all"])?;
    assert!(text(&got, "document").contains("oss:ListBuckets"));
    std::fs::write(&policy, "{not json")?;
    let bad = admin(
        &dir,
        &["policy", "put", "broken", "--file", &policy.to_string_lossy()],
    )?;
    assert!(!bad.status.success(), "a malformed policy is refused");
    let out = admin(&dir, &["policy", "delete", "list-all"])?;
    assert!(!out.status.success(), "an attached policy cannot be deleted");

    let disabled = admin_json(&dir, &["key", "disable", &id])?;
    assert_eq!(text(&disabled, "status"), "Inactive");
    assert_eq!(
        text(&admin_json(&dir, &["key", "enable", &id])?, "status"),
        "Active"
    );
    admin_json(&dir, &["policy", "detach", "list-all", "--user", "alice"])?;
    admin_json(&dir, &["policy", "delete", "list-all"])?;
    assert_eq!(
        admin_json(&dir, &["policy", "list"])?.as_array().map(Vec::len),
        Some(0)
    );
    admin_json(&dir, &["key", "delete", &id])?;
    admin_json(&dir, &["user", "delete", "alice"])?;
    assert_eq!(
        admin_json(&dir, &["user", "list"])?.as_array().map(Vec::len),
        Some(0)
    );

    // The text form is a table with a header row.
    let out = admin(&dir, &["key", "list"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("ACCESS KEY ID"), "{table}");
    assert!(table.contains("(root)"));
    Ok(())
}
