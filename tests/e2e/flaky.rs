//! A TCP proxy in front of a server that can drop connections on demand: open
//! connections are cut (as a server's keep-alive timeout does) and a dropped new
//! connection is accepted and closed at once, so the client's request fails the way one
//! sent on a connection the server is closing fails.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// A running proxy; stops with the test's runtime.
pub struct FlakyProxy {
    addr: SocketAddr,
    drop_next: Arc<AtomicU32>,
    down: Arc<AtomicBool>,
    target: Arc<std::sync::Mutex<Option<SocketAddr>>>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl FlakyProxy {
    /// Listens on a loopback port; forwards nowhere until [`FlakyProxy::forward_to`].
    pub async fn start() -> FlakyProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = FlakyProxy {
            addr: listener.local_addr().unwrap(),
            drop_next: Arc::default(),
            down: Arc::default(),
            target: Arc::default(),
            cut: tokio::sync::watch::Sender::new(0),
        };
        let (drop_next, down, target, cut) = (
            proxy.drop_next.clone(),
            proxy.down.clone(),
            proxy.target.clone(),
            proxy.cut.clone(),
        );
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let dropping = down.load(Ordering::SeqCst)
                    || drop_next
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                let to = *target.lock().unwrap();
                match (dropping, to) {
                    (false, Some(to)) => {
                        let mut cut = cut.subscribe();
                        tokio::spawn(async move {
                            if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                                tokio::select! {
                                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                    _ = cut.changed() => {}
                                }
                            }
                        });
                    }
                    _ => drop(inbound),
                }
            }
        });
        proxy
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts an IdP whose issuer is this proxy's address, and forwards to it (a
    /// second IdP started later takes the first one's place behind the same issuer).
    pub fn front_idp(&self, opts: super::IdpOptions) -> super::Idp {
        let idp = super::Idp::start(super::IdpOptions {
            issuer: Some(format!("http://{}", self.addr)),
            ..opts
        })
        .expect("start the IdP");
        self.forward_to(format!("127.0.0.1:{}", idp.port()).parse().unwrap());
        idp
    }

    /// Where connections go.
    pub fn forward_to(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = Some(target);
    }

    /// Cuts the open connections and drops the next `n` new ones.
    pub fn drop_next(&self, n: u32) {
        self.drop_next.store(n, Ordering::SeqCst);
        self.cut.send_modify(|e| *e += 1);
    }

    /// Cuts the open connections and drops every new one while `down`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        self.cut.send_modify(|e| *e += 1);
    }
}
