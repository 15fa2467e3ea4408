//! A loopback TCP proxy that delays, holds or cuts what it forwards: put in front of kms or meta, it makes a
//! slow, hung or unreachable peer out of a healthy one (mutual TLS passes through untouched).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How the proxy treats traffic right now; shared by every connection.
#[derive(Debug, Default)]
struct Behaviour {
    delay_ms: AtomicU64,
    jitter_ms: AtomicU64,
    hung: AtomicBool,
    rolls: AtomicU64,
    /// A network cut: connections are closed and new ones refused while set.
    cut: AtomicBool,
    /// Cancelled when a cut begins, closing every open connection; replaced when it heals.
    links: std::sync::Mutex<CancellationToken>,
}

impl Behaviour {
    fn links(&self) -> CancellationToken {
        self.links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A running delay proxy.
#[derive(Debug, Clone)]
pub struct DelayProxy {
    /// `127.0.0.1:<port>` to dial instead of the upstream.
    pub addr: std::net::SocketAddr,
    behaviour: Arc<Behaviour>,
}

impl DelayProxy {
    /// Forwards connections on a fresh loopback port to `upstream` until `stop` is cancelled.
    pub async fn start(upstream: std::net::SocketAddr, stop: CancellationToken) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let behaviour = Arc::new(Behaviour::default());
        let shared = Arc::clone(&behaviour);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = stop.cancelled() => return,
                };
                let Ok((client, _)) = accepted else { continue };
                if shared.cut.load(Ordering::SeqCst) {
                    // Cut: the connection is closed at once.
                    drop(client);
                    continue;
                }
                let behaviour = Arc::clone(&shared);
                let stop = stop.clone();
                let links = behaviour.links();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        () = pump(client_read, server_write, &behaviour) => {}
                        () = pump(server_read, client_write, &behaviour) => {}
                        () = stop.cancelled() => {}
                        () = links.cancelled() => {}
                    }
                });
            }
        });
        Ok(Self { addr, behaviour })
    }

    /// Adds `delay` (plus up to `jitter`) before each forwarded piece, in both directions.
    pub fn set_delay(&self, delay: Duration, jitter: Duration) {
        self.behaviour.delay_ms.store(millis(delay), Ordering::Relaxed);
        self.behaviour.jitter_ms.store(millis(jitter), Ordering::Relaxed);
    }

    /// Holds every byte (a hung peer: connections stay open, nothing moves) until called with `false`.
    pub fn set_hung(&self, hung: bool) {
        self.behaviour.hung.store(hung, Ordering::Relaxed);
    }

    /// Cuts the link (every open connection is closed mid-stream, new ones are closed at once) until called
    /// with `false`.
    pub fn set_cut(&self, cut: bool) {
        self.behaviour.cut.store(cut, Ordering::SeqCst);
        let mut links = self
            .behaviour
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cut {
            links.cancel();
        } else if links.is_cancelled() {
            *links = CancellationToken::new();
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    behaviour: &Behaviour,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while behaviour.hung.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let delay = behaviour.delay_ms.load(Ordering::Relaxed);
        let jitter = behaviour.jitter_ms.load(Ordering::Relaxed);
        if delay + jitter > 0 {
            // A cheap deterministic spread is enough jitter for a test.
            let roll = behaviour.rolls.fetch_add(7919, Ordering::Relaxed);
            let extra = if jitter == 0 { 0 } else { roll % (jitter + 1) };
            tokio::time::sleep(Duration::from_millis(delay + extra)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
