//! A real `redis-server` (Debian's package) on a free loopback port with its own temp
//! dir, for the Redis session store. It can be killed and started again on the same port,
//! keeping its data (append-only file) or not.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::process::{ManagedChild, free_port};
use super::{Result, scratch_dir};

/// A running Redis; killed on drop.
#[derive(Debug)]
pub struct Redis {
    port: u16,
    persistent: bool,
    child: Option<ManagedChild>,
    dir: tempfile::TempDir,
    starts: u32,
}

impl Redis {
    /// Starts Redis. `persistent`: every write goes to an append-only file first, so a
    /// restart after a kill keeps the data; otherwise a restart comes back empty.
    pub fn start(persistent: bool) -> Result<Redis> {
        let mut redis = Redis {
            port: free_port(),
            persistent,
            child: None,
            dir: scratch_dir("redis")?,
            starts: 0,
        };
        redis.restart()?;
        Ok(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL via the handle's drop: TERM, then KILL).
    pub fn kill(&mut self) {
        self.child = None;
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) -> Result<()> {
        self.child = None;
        self.starts += 1;
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--save")
            .arg("")
            .arg("--daemonize")
            .arg("no");
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let log = self.dir.path().join(format!("redis-{}.log", self.starts));
        let mut child = ManagedChild::spawn("redis-server", cmd, log)?;
        child.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(10),
        )?;
        self.child = Some(child);
        Ok(())
    }

    /// Runs `redis-cli` against the server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The server's log.
    pub fn log(&self) -> String {
        self.child
            .as_ref()
            .map(ManagedChild::log)
            .unwrap_or_default()
    }
}

/// A Redis Sentinel (`redis-server --sentinel`) watching `master` under the name
/// `mymaster`; killed on drop.
#[derive(Debug)]
pub struct Sentinel {
    port: u16,
    _child: ManagedChild,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    /// Starts a sentinel for `master` (quorum 1).
    pub fn start(master: &Redis) -> Result<Sentinel> {
        let dir = scratch_dir("sentinel")?;
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 1\n",
                dir.path().display(),
                master.port
            ),
        )?;
        let mut cmd = Command::new("redis-server");
        cmd.arg(&conf).arg("--sentinel");
        let mut child = ManagedChild::spawn("redis-sentinel", cmd, dir.path().join("log"))?;
        child.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(10),
        )?;
        Ok(Sentinel {
            port,
            _child: child,
            _dir: dir,
        })
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}
