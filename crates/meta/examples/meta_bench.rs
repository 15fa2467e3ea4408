//! Throughput and latency of `cang meta` over loopback mTLS: streamed 256 MiB writes and reads,
//! small-object puts/s with 1 and 32 writers, HEAD latency during a concurrent 1 GiB upload, and
//! disk bytes per stored ciphertext byte. Run with
//! `cargo run --release -p cang-meta --example meta_bench [-- <large MiB> <seconds per small run>]`.

#![allow(clippy::print_stdout, reason = "a benchmark reports its table on stdout")]

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use cang_meta::MetaConfig;
use cang_meta_api::{
    Acl, MetaGrpcClient, NewBucket, ObjectMeta, ObjectStore, Preconditions, PutObjectHeader, PutTrailer,
    write_body,
};
use cang_tls::TlsFiles;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

const MIB: usize = 1 << 20;

fn header(key: &str) -> PutObjectHeader {
    PutObjectHeader {
        bucket: "bench".into(),
        key: key.into(),
        meta: ObjectMeta::default(),
        format: vec![0; 48],
        forbid_overwrite: false,
        replaces: None,
    }
}

async fn put(client: &MetaGrpcClient, key: &str, payload: &Bytes, total: usize) -> anyhow::Result<()> {
    let chunks: Vec<Bytes> = (0..total / payload.len()).map(|_| payload.clone()).collect();
    let trailer = PutTrailer {
        plaintext_len: total as u64,
        etag: "E".into(),
        crc64: None,
    };
    client
        .put_object(header(key), write_body(chunks, trailer))
        .await?;
    Ok(())
}

async fn get(client: &MetaGrpcClient, key: &str) -> anyhow::Result<usize> {
    let (_, mut stream) = client
        .read_object("bench", key, None, Preconditions::default())
        .await?;
    let mut n = 0;
    while let Some(chunk) = stream.next().await {
        n += chunk?.len();
    }
    Ok(n)
}

async fn small_puts(client: &MetaGrpcClient, writers: usize, secs: f64) -> anyhow::Result<(f64, Duration)> {
    let payload = Bytes::from(vec![7u8; 4096]);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, payload) = (client.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                put(&client, &format!("small/{w}/{i}"), &payload, payload.len()).await?;
                lat.push(t.elapsed());
                i += 1;
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    let p99 = all.get(all.len() * 99 / 100).copied().unwrap_or_default();
    Ok((rate, p99))
}

/// The same write and read straight on a [`cang_meta::Store`], to separate storage from transport.
fn store_only(payload: &Bytes, total: usize) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let store = cang_meta::open_store(dir.path())?;
    let new = NewBucket {
        name: "bench".into(),
        owner: "1".into(),
        location: String::new(),
        acl: Acl::Private,
        encryption: None,
    };
    store.create_bucket(new)?;
    let t = Instant::now();
    let mut writer = store.stage_blob();
    for _ in 0..total / payload.len() {
        writer.write(payload)?;
    }
    let trailer = PutTrailer {
        plaintext_len: total as u64,
        etag: "E".into(),
        crc64: None,
    };
    store.put_object(header("direct"), writer.finish()?, trailer)?;
    let put = total as f64 / t.elapsed().as_secs_f64() / 1e9;
    let t = Instant::now();
    let (_, reader) = store.read_object("bench", "direct", None, &Preconditions::default())?;
    let mut n = 0;
    for chunk in reader {
        n += chunk?.len();
    }
    anyhow::ensure!(n == total, "read {n} of {total} bytes");
    Ok((put, total as f64 / t.elapsed().as_secs_f64() / 1e9))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let large_mib: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(256);
    let small_secs: f64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3.0);

    let dir = tempfile::tempdir()?;
    let pki = dir.path().join("pki");
    cang_tls::write_dev_pki(&pki)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let data_dir = dir.path().join("data");
    let config = MetaConfig {
        data_dir: data_dir.clone(),
        tls: TlsFiles::in_dir(&pki, "meta"),
        metrics_listen: None,
    };
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(cang_meta::run(config, listener, shutdown.clone()));
    let client = MetaGrpcClient::connect_lazy(
        &format!("localhost:{port}"),
        TlsFiles::in_dir(&pki, "gateway").client_config()?,
    )?;
    let new = NewBucket {
        name: "bench".into(),
        owner: "1".into(),
        location: String::new(),
        acl: Acl::Private,
        encryption: None,
    };
    client.create_bucket(new).await?;

    // 1 MiB messages of ciphertext-like bytes (64 KiB segments + tags would be similar in size).
    let payload = Bytes::from((0..MIB).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
    let total = large_mib * MIB;
    println!("| measurement | result |");
    println!("|---|---|");
    for round in 0..3 {
        let t = Instant::now();
        put(&client, &format!("large/{round}"), &payload, total).await?;
        let put_gbs = total as f64 / t.elapsed().as_secs_f64() / 1e9;
        let t = Instant::now();
        let n = get(&client, &format!("large/{round}")).await?;
        anyhow::ensure!(n == total, "read {n} of {total} bytes");
        let get_gbs = total as f64 / t.elapsed().as_secs_f64() / 1e9;
        println!(
            "| {large_mib} MiB streamed write / read, round {round} | {put_gbs:.2} / {get_gbs:.2} GB/s |"
        );
    }
    let (put_gbs, get_gbs) = {
        let payload = payload.clone();
        tokio::task::spawn_blocking(move || store_only(&payload, total)).await??
    };
    println!(
        "| {large_mib} MiB write / read on the store alone (no gRPC) | {put_gbs:.2} / {get_gbs:.2} GB/s |"
    );
    let meta = std::fs::metadata(data_dir.join(cang_meta::DB_FILE)).context("stat store")?;
    let stored = 3 * total;
    println!(
        "| disk bytes / ciphertext bytes ({} × {large_mib} MiB) | {:.3} (apparent length {:.3}) |",
        3,
        (meta.blocks() * 512) as f64 / stored as f64,
        meta.len() as f64 / stored as f64
    );

    for writers in [1, 32] {
        let (rate, p99) = small_puts(&client, writers, small_secs).await?;
        println!(
            "| 4 KiB puts/s, {writers} writers | {rate:.0}/s (p99 {:.2} ms) |",
            p99.as_secs_f64() * 1e3
        );
    }

    // HEAD latency while a 1 GiB upload streams.
    let upload = {
        let (client, payload) = (client.clone(), payload.clone());
        tokio::spawn(async move { put(&client, "huge", &payload, 1024 * MIB).await })
    };
    let mut lat = Vec::new();
    while !upload.is_finished() {
        let t = Instant::now();
        client.head_object("bench", "large/0").await?;
        lat.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    upload.await??;
    lat.sort();
    let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or_default();
    println!(
        "| HEAD p99 during a 1 GiB upload ({} samples) | {:.2} ms |",
        lat.len(),
        p99.as_secs_f64() * 1e3
    );

    shutdown.cancel();
    server.await??;
    Ok(())
}
