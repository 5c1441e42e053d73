//! A real three-master Redis Cluster (Debian's `redis-server --cluster-enabled yes`,
//! joined with `redis-cli --cluster create`) on loopback ports.

use std::process::Command;
use std::time::{Duration, Instant};

use super::redis::{Redis, RedisOptions};
use super::redis_tls::TlsFiles;
use super::{HarnessError, Result};

/// Three cluster masters, no replicas; killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    /// The nodes.
    pub nodes: Vec<Redis>,
}

impl RedisCluster {
    /// Starts three nodes, assigns every slot and waits for `cluster_state:ok`.
    pub fn start() -> Result<RedisCluster> {
        Self::start_with(None)
    }

    /// The same, every node speaking only TLS (clients and the cluster bus) with `tls`.
    pub fn start_with(tls: Option<TlsFiles>) -> Result<RedisCluster> {
        let nodes = (0..3)
            .map(|_| {
                Redis::start_with(RedisOptions {
                    cluster: true,
                    tls: tls.clone(),
                    ..RedisOptions::default()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let out = Command::new("redis-cli")
            .args(tls.as_ref().map(TlsFiles::client_args).unwrap_or_default())
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()?;
        if !out.status.success() {
            return Err(HarnessError::Unexpected(format!(
                "redis-cli --cluster create: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nodes
            .iter()
            .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            if Instant::now() > deadline {
                return Err(HarnessError::Unexpected(
                    "the cluster did not reach cluster_state:ok in 20s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(RedisCluster { nodes })
    }

    /// The nodes' URLs (the seed nodes of a cluster store).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Redis::url).collect()
    }

    /// Keys matching `pattern` on each node.
    pub fn keys_per_node(&self, pattern: &str) -> Vec<Vec<String>> {
        self.nodes
            .iter()
            .map(|n| {
                n.cli(&["--scan", "--pattern", pattern])
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }

    /// Every node's log.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(Redis::log)
            .collect::<Vec<_>>()
            .join("\n----\n")
    }
}
