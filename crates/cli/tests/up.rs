//! `cang up` as a real process tree: first start provisions a working access key, SIGTERM stops every
//! child, a restart reuses everything, and a dying child takes the instance down with a clear report.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Up, children_of, env_file, free_port, http, processes_mentioning, signed_list_buckets};
use rustix::process::{Pid, Signal, kill_process};

#[test]
fn up_provisions_serves_stops_cleanly_and_restarts_with_the_same_credentials() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let port = free_port()?;
    let mut up = Up::start(&dir, port, "first")?;
    assert!(up.output().contains("(created now)"), "{}", up.output());
    assert!(up.output().contains(&format!("http://127.0.0.1:{port}")));

    let credentials = dir.join("credentials.env");
    let mode = std::fs::metadata(&credentials)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "credentials.env must be private");
    let root_key_mode = std::fs::metadata(dir.join("root.key"))?.permissions().mode() & 0o777;
    assert_eq!(root_key_mode, 0o600);
    let env = env_file(&credentials)?;
    assert_eq!(env["OSS_ENDPOINT"], format!("http://127.0.0.1:{port}"));
    assert_eq!(env["OSS_REGION"], "cn-hangzhou");
    assert!(env["OSS_ACCESS_KEY_ID"].starts_with("LTAI"));
    assert!(env["OSS_ACCESS_KEY_SECRET"].len() >= 30);
    assert!(
        !up.output().contains(&env["OSS_ACCESS_KEY_SECRET"]),
        "the secret belongs in the 0600 file, not on the terminal"
    );

    // The gateway answers anonymous requests (with an OSS error) and accepts the provisioned key.
    let (status, body) = http(
        up.addr,
        &format!("GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", up.addr),
    )?;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_ascii_lowercase().contains("x-oss-request-id"));
    let (status, body) =
        signed_list_buckets(up.addr, &env["OSS_ACCESS_KEY_ID"], &env["OSS_ACCESS_KEY_SECRET"])?;
    assert_eq!(status, 200, "the provisioned key must sign requests: {body}");
    let (status, _) = signed_list_buckets(up.addr, &env["OSS_ACCESS_KEY_ID"], "wrong-secret")?;
    assert_eq!(status, 403);

    // Three children, each this binary running one service.
    let children = children_of(up.child.id());
    let mut services: Vec<&str> = children
        .iter()
        .filter_map(|(_, cmd)| {
            ["kms", "meta", "gateway"]
                .into_iter()
                .find(|s| cmd.contains(&format!(" {s} ")))
        })
        .collect();
    services.sort_unstable();
    assert_eq!(services, ["gateway", "kms", "meta"], "{children:?}");

    let status = up.terminate()?;
    assert!(
        status.success(),
        "SIGTERM is a clean stop: {status} {}",
        up.errors()
    );
    let needle = dir.to_string_lossy().into_owned();
    assert!(
        processes_mentioning(&needle).is_empty(),
        "leftover: {:?}",
        processes_mentioning(&needle)
    );
    for (pid, _) in &children {
        assert!(common::cmdline(*pid).is_empty() || !common::cmdline(*pid).contains(&needle));
    }
    drop(up);

    let credentials_before = std::fs::read(&credentials)?;
    let mut again = Up::start(&dir, port, "second")?;
    assert!(!again.output().contains("(created now)"), "{}", again.output());
    assert_eq!(
        std::fs::read(&credentials)?,
        credentials_before,
        "restart must reuse the credentials"
    );
    let (status, body) = signed_list_buckets(
        again.addr,
        &env["OSS_ACCESS_KEY_ID"],
        &env["OSS_ACCESS_KEY_SECRET"],
    )?;
    assert_eq!(status, 200, "{body}");
    let accounts = common::admin_json(&dir, &["account", "list"])?;
    assert_eq!(
        accounts.as_array().map(Vec::len),
        Some(1),
        "no second account: {accounts}"
    );
    assert!(again.terminate()?.success());
    Ok(())
}

#[test]
fn a_dying_child_is_reported_and_the_others_are_stopped() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let mut up = Up::start(&dir, free_port()?, "only")?;
    let meta = children_of(up.child.id())
        .into_iter()
        .find(|(_, cmd)| cmd.contains(" meta "))
        .map(|(pid, _)| pid)
        .ok_or_else(|| anyhow::anyhow!("no meta child"))?;
    kill_process(
        Pid::from_raw(i32::try_from(meta)?).ok_or_else(|| anyhow::anyhow!("pid 0"))?,
        Signal::KILL,
    )?;
    let status = up.wait(Duration::from_secs(60))?;
    assert!(!status.success(), "a dead child is a failure");
    let errors = up.errors();
    assert!(errors.contains("meta exited unexpectedly"), "{errors}");
    let needle = dir.to_string_lossy().into_owned();
    assert!(
        processes_mentioning(&needle).is_empty(),
        "leftover: {:?}",
        processes_mentioning(&needle)
    );
    Ok(())
}

#[test]
fn children_of_a_killed_up_stop_by_themselves_and_leave_a_reusable_instance() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let port = free_port()?;
    let mut up = Up::start(&dir, port, "killed")?;
    assert_eq!(children_of(up.child.id()).len(), 3);
    // SIGKILL gives `up` no chance to stop its children: they must notice on their own.
    up.child.kill()?;
    up.wait(Duration::from_secs(10))?;
    let needle = dir.to_string_lossy().into_owned();
    let started = std::time::Instant::now();
    while !processes_mentioning(&needle).is_empty() {
        assert!(
            started.elapsed() < common::STOP_DEADLINE,
            "orphans: {:?}",
            processes_mentioning(&needle)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(up);
    // They shut down cleanly (the key store in particular), so the instance starts again as it was.
    let mut again = Up::start(&dir, port, "after-kill")?;
    let env = env_file(&dir.join("credentials.env"))?;
    let (status, body) = signed_list_buckets(
        again.addr,
        &env["OSS_ACCESS_KEY_ID"],
        &env["OSS_ACCESS_KEY_SECRET"],
    )?;
    assert_eq!(status, 200, "{body}");
    assert!(again.terminate()?.success());
    Ok(())
}

#[test]
fn services_killed_outright_come_back_with_their_data() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let port = free_port()?;
    let mut up = Up::start(&dir, port, "sigkill")?;
    // SIGKILL the crypto and metadata services themselves: their stores are left open, as after a crash.
    for service in [" kms ", " meta "] {
        let pid = children_of(up.child.id())
            .into_iter()
            .find(|(_, cmd)| cmd.contains(service))
            .map(|(pid, _)| pid)
            .ok_or_else(|| anyhow::anyhow!("no{service}child"))?;
        kill_process(
            Pid::from_raw(i32::try_from(pid)?).ok_or_else(|| anyhow::anyhow!("pid 0"))?,
            Signal::KILL,
        )?;
    }
    let _ = up.wait(Duration::from_secs(60))?;
    let needle = dir.to_string_lossy().into_owned();
    let started = std::time::Instant::now();
    while !processes_mentioning(&needle).is_empty() {
        assert!(
            started.elapsed() < common::STOP_DEADLINE,
            "leftover: {:?}",
            processes_mentioning(&needle)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(up);
    let mut again = Up::start(&dir, port, "after-sigkill")?;
    let env = env_file(&dir.join("credentials.env"))?;
    let (status, body) = signed_list_buckets(
        again.addr,
        &env["OSS_ACCESS_KEY_ID"],
        &env["OSS_ACCESS_KEY_SECRET"],
    )?;
    assert_eq!(
        status, 200,
        "the access key (sealed by kms, stored in meta) still works: {body}"
    );
    assert!(again.terminate()?.success());
    Ok(())
}
