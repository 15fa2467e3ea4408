//! Many concurrent small reads and writes over the gateway's shared gRPC channels: every request succeeds.
//! (Reads that ended their gRPC stream early once made the metadata service's HTTP/2 stack treat the burst of
//! stream resets as an attack and drop the connection, failing unrelated requests with 503.)

use cang_tests::Cluster;

use crate::http::{body, create_bucket, op};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_clients_all_succeed() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "busy",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    let op = op(&cluster, &root, "busy");
    for i in 0..32 {
        op.write(&format!("k{i}"), body(4096 + i * 100, i as u8))
            .await
            .expect("seed");
    }
    let mut tasks = Vec::new();
    for client in 0..64usize {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for round in 0..40usize {
                let i = (client * 7 + round) % 32;
                let path = format!("k{i}");
                let result = if round % 5 == 0 {
                    op.write(&path, body(4096 + i * 100, i as u8)).await.map(|_| ())
                } else if round % 2 == 0 {
                    op.read_with(&path)
                        .range(10..20)
                        .await
                        .map(|b| assert_eq!(b.len(), 10))
                } else {
                    op.read(&path)
                        .await
                        .map(|b| assert_eq!(b.to_vec(), body(4096 + i * 100, i as u8)))
                };
                if let Err(e) = result {
                    failures.push(e.to_string());
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.expect("task"));
    }
    assert!(
        failures.is_empty(),
        "{} of 2560 requests failed, first: {:?}",
        failures.len(),
        failures.first()
    );
}
