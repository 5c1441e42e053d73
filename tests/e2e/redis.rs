//! A real `redis-server` (Debian's package) on a free loopback port with its own temp
//! dir, for the Redis session store. It can be killed and started again on the same port,
//! keeping its data (append-only file) or not; it can require a password, speak only TLS
//! (certificates from [`super::redis_tls`]), replicate another, or be a cluster node.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::process::{ManagedChild, free_port};
use super::redis_tls::TlsFiles;
use super::{Result, scratch_dir};

/// How a [`Redis`] runs.
#[derive(Clone, Debug, Default)]
pub struct RedisOptions {
    /// Every write goes to an append-only file first, so a restart after a kill keeps
    /// the data; otherwise a restart comes back empty.
    pub persistent: bool,
    /// `requirepass` (and `masterauth`, for a replica of a server with the same one).
    pub password: Option<String>,
    /// TLS only (`--port 0 --tls-port`), with these certificates.
    pub tls: Option<TlsFiles>,
    /// A replica of the server on this port.
    pub replica_of: Option<u16>,
    /// A Redis Cluster node (`--cluster-enabled yes`).
    pub cluster: bool,
}

/// A running Redis; killed on drop.
#[derive(Debug)]
pub struct Redis {
    port: u16,
    options: RedisOptions,
    child: Option<ManagedChild>,
    dir: tempfile::TempDir,
    starts: u32,
}

impl Redis {
    /// Starts Redis. `persistent`: every write goes to an append-only file first, so a
    /// restart after a kill keeps the data; otherwise a restart comes back empty.
    pub fn start(persistent: bool) -> Result<Redis> {
        Self::start_with(RedisOptions {
            persistent,
            ..RedisOptions::default()
        })
    }

    /// Starts Redis as `options` say.
    pub fn start_with(options: RedisOptions) -> Result<Redis> {
        let mut redis = Redis {
            port: free_port(),
            options,
            child: None,
            dir: scratch_dir("redis")?,
            starts: 0,
        };
        redis.restart()?;
        Ok(redis)
    }

    /// The port it listens on (TLS only with [`RedisOptions::tls`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL via the handle's drop: TERM, then KILL).
    pub fn kill(&mut self) {
        self.child = None;
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) -> Result<()> {
        self.child = None;
        self.starts += 1;
        let o = &self.options;
        let mut cmd = Command::new("redis-server");
        let port = self.port.to_string();
        match &o.tls {
            None => cmd.args(["--port", &port]),
            Some(tls) => cmd
                .args(["--port", "0", "--tls-port", &port])
                .args(tls.server_args())
                .args(["--tls-replication", "yes", "--tls-cluster", "yes"]),
        };
        cmd.arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--save")
            .arg("")
            .arg("--daemonize")
            .arg("no");
        if o.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        if let Some(pw) = &o.password {
            cmd.args(["--requirepass", pw, "--masterauth", pw]);
        }
        if let Some(master) = o.replica_of {
            cmd.args(["--replicaof", "127.0.0.1", &master.to_string()]);
        }
        if o.cluster {
            cmd.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ]);
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
        let out = self
            .cli_command()
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `redis-cli` pointed at this server (port, password, TLS).
    pub fn cli_command(&self) -> Command {
        let mut cmd = Command::new("redis-cli");
        cmd.arg("-p").arg(self.port.to_string());
        if let Some(pw) = &self.options.password {
            cmd.args(["--no-auth-warning", "-a", pw]);
        }
        if let Some(tls) = &self.options.tls {
            cmd.args(tls.client_args());
        }
        cmd
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
/// `mymaster`; killed on drop. With a TLS master it speaks only TLS too, to its clients
/// and to the servers it watches.
#[derive(Debug)]
pub struct Sentinel {
    port: u16,
    tls: Option<TlsFiles>,
    _child: ManagedChild,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    /// Starts a sentinel for `master` (quorum 1).
    pub fn start(master: &Redis) -> Result<Sentinel> {
        let dir = scratch_dir("sentinel")?;
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        let tls = master.options.tls.clone();
        let listen = match &tls {
            None => format!("port {port}\n"),
            // redis-server's flags, as config lines: `--tls-port P` is `tls-port P`.
            Some(t) => {
                let mut lines = format!("port 0\ntls-port {port}\ntls-replication yes\n");
                for pair in t.server_args().chunks(2) {
                    let key = pair[0].trim_start_matches("--");
                    lines.push_str(&format!("{key} {}\n", pair[1]));
                }
                lines
            }
        };
        std::fs::write(
            &conf,
            format!(
                // Quick to act, so a failover test takes seconds.
                "{listen}bind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 5000\n{}",
                dir.path().display(),
                master.port,
                master
                    .options
                    .password
                    .as_ref()
                    .map(|pw| format!("sentinel auth-pass mymaster {pw}\n"))
                    .unwrap_or_default(),
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
            tls,
            _child: child,
            _dir: dir,
        })
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn cli(&self) -> Command {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-p", &self.port.to_string()]);
        if let Some(tls) = &self.tls {
            cmd.args(tls.client_args());
        }
        cmd
    }

    /// How many replicas of `mymaster` the sentinel knows.
    pub fn replicas(&self) -> usize {
        self.cli()
            .args(["SENTINEL", "replicas", "mymaster"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| *l == "name")
                    .count()
            })
            .unwrap_or(0)
    }

    /// The port of the master the sentinel names now.
    pub fn master_port(&self) -> Option<u16> {
        let out = self
            .cli()
            .args(["SENTINEL", "get-master-addr-by-name", "mymaster"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)?
            .trim()
            .parse()
            .ok()
    }
}
