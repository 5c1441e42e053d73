//! The Redis client behind the Redis session store: connects lazily, bounds every call
//! with the configured timeout, and drops the connection after any failure so the next
//! call connects again (recovery needs no restart; in Sentinel mode it also asks the
//! sentinels again, which follows a failover).

use super::keys::Keys;
use super::writes::Writes;
use crate::config::{RedisConfig, RedisMode};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, TlsCertificates,
    Value,
};
use std::time::Duration;
use thiserror::Error;

/// Why a Redis call failed. The message names the store's address, never the password.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("session store {store}: {message}")]
pub struct RedisError {
    /// The store's first URL (no credentials: configuration refuses them in URLs).
    pub store: String,
    /// What went wrong.
    pub message: String,
}

/// A live connection: one multiplexed connection, or a cluster connection.
#[derive(Clone)]
enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// What [`RedisStore::run`] sends.
#[derive(Clone, Copy)]
enum Request<'a> {
    Cmd(&'a Cmd),
    Pipe(&'a Pipeline),
}

/// The resolved secrets of a Redis store's configuration.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoreSecrets {
    /// The password (`password`).
    pub password: Option<String>,
    /// PEM certificates of the CAs that sign the servers' certificates (`caBundle`).
    pub ca_bundle: Option<String>,
}

impl std::fmt::Debug for StoreSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("StoreSecrets")
            .field("password", &self.password.is_some())
            .field("ca_bundle", &self.ca_bundle.is_some())
            .finish()
    }
}

/// One configured Redis, shared by every route that names the same configuration.
pub struct RedisStore {
    config: RedisConfig,
    secrets: StoreSecrets,
    /// Key names under the configured prefix.
    pub keys: Keys,
    conn: tokio::sync::Mutex<Option<Conn>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("RedisStore")
            .field("mode", &self.config.mode)
            .field("urls", &self.config.urls)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `config` with its resolved `secrets`; nothing is connected yet.
    pub fn new(config: RedisConfig, secrets: StoreSecrets) -> Self {
        Self {
            keys: Keys::new(&config.key_prefix),
            config,
            secrets,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// The configuration this store was built from.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Whether this store was built from `config` and `secrets` (reused across reloads).
    pub(crate) fn is_for(&self, config: &RedisConfig, secrets: &StoreSecrets) -> bool {
        self.config == *config && self.secrets == *secrets
    }

    /// The store's name in logs and pages.
    pub fn describe(&self) -> String {
        self.config.urls.first().cloned().unwrap_or_default()
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_millis)
    }

    fn error(&self, message: impl std::fmt::Display) -> RedisError {
        RedisError {
            store: self.describe(),
            message: message.to_string(),
        }
    }

    /// A failed connect, with the fix when the cause is a known one (redis-rs's own
    /// words name neither the field nor the remedy).
    fn connect_error(&self, e: &redis::RedisError) -> RedisError {
        let text = e.to_string();
        let lower = text.to_ascii_lowercase();
        let hint = if lower.contains("certificate") || lower.contains("unknownissuer") {
            if self.secrets.ca_bundle.is_some() {
                " (the server's certificate does not verify against caBundle, or does not name the host in the URL; put the CA that signed it in caBundle)"
            } else {
                " (the server's certificate does not verify against the system's trust store; set caBundle to the CA that signed it)"
            }
        } else if e.kind() == redis::ErrorKind::AuthenticationFailed
            || lower.contains("wrongpass")
            || lower.contains("noauth")
            || lower.contains("authentication")
        {
            " (check password and username: the server refused them, or wants one and none is set)"
        } else {
            ""
        };
        self.error(format!("connect: {text}{hint}"))
    }

    /// Runs one command (or pipeline) within the timeout; on failure the connection is
    /// dropped so that the next call connects afresh. A connection that turns out dead
    /// (Redis restarted since it was opened) is replaced and the call tried once more,
    /// still within the same timeout: the commands used are safe to repeat.
    async fn run<T: FromRedisValue>(
        &self,
        what: &'static str,
        request: Request<'_>,
    ) -> Result<T, RedisError> {
        let outcome = tokio::time::timeout(self.timeout(), async {
            match self.attempt(what, request).await {
                Err((true, _)) => {
                    *self.conn.lock().await = None;
                    self.attempt(what, request).await.map_err(|(_, e)| e)
                }
                other => other.map_err(|(_, e)| e),
            }
        })
        .await
        .unwrap_or_else(|_| {
            Err(self.error(format!(
                "{what}: no answer within {} ms",
                self.config.timeout_millis
            )))
        });
        if outcome.is_err() {
            *self.conn.lock().await = None;
        }
        outcome
    }

    /// One try; the flag says whether the connection was found dead.
    async fn attempt<T: FromRedisValue>(
        &self,
        what: &'static str,
        request: Request<'_>,
    ) -> Result<T, (bool, RedisError)> {
        let mut conn = self.connection().await.map_err(|e| (false, e))?;
        let result = match request {
            Request::Cmd(cmd) => cmd.query_async(&mut conn).await,
            Request::Pipe(pipe) => pipe.query_async(&mut conn).await,
        };
        result.map_err(|e| {
            let dead = e.is_io_error() || e.is_connection_dropped();
            (dead, self.error(format!("{what}: {e}")))
        })
    }

    /// A command.
    pub async fn query<T: FromRedisValue>(
        &self,
        what: &'static str,
        cmd: Cmd,
    ) -> Result<T, RedisError> {
        self.run(what, Request::Cmd(&cmd)).await
    }

    /// A pipeline or transaction (`MULTI` ... `EXEC`).
    pub async fn pipe<T: FromRedisValue>(
        &self,
        what: &'static str,
        pipe: Pipeline,
    ) -> Result<T, RedisError> {
        self.run(what, Request::Pipe(&pipe)).await
    }

    /// Runs `writes`: in a Redis Cluster one transaction per slot group, in order (a
    /// transaction may not span slots there); elsewhere one transaction.
    pub async fn write(&self, what: &'static str, writes: &Writes) -> Result<(), RedisError> {
        if writes.is_empty() {
            return Ok(());
        }
        if self.config.mode != RedisMode::Cluster {
            return self.pipe(what, writes.together()).await;
        }
        for pipe in writes.per_slot() {
            self.pipe::<()>(what, pipe).await?;
        }
        Ok(())
    }

    /// `PING`: whether the store answers now (for `/readyz`).
    pub(crate) async fn ping(&self) -> Result<(), RedisError> {
        let pong: String = self.query("PING", redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(self.error(format!("PING answered {pong:?}")))
        }
    }

    /// Runs at most once per `name` across every replica sharing this Redis for `ttl`:
    /// `SET <prefix>:once:<name> 1 NX PX ttl`. True for the one caller that won. For
    /// single-flight work (a token refresh): the winner does it, the others wait for its
    /// result or retry after `ttl`.
    pub async fn once(&self, name: &str, ttl: Duration) -> Result<bool, RedisError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.once(name))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64);
        let set: Option<String> = self.query("SET NX", cmd).await?;
        Ok(set.is_some())
    }

    /// The current connection, or a new one.
    async fn connection(&self) -> Result<Conn, RedisError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let conn = self.connect().await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn connect(&self) -> Result<Conn, RedisError> {
        let c = &self.config;
        let io = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout()))
            .set_response_timeout(Some(self.timeout()));
        let infos = c
            .urls
            .iter()
            .map(|u| u.as_str().into_connection_info())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(format!("URL: {e}")))?;
        let with_auth = |settings: redis::RedisConnectionInfo| {
            let settings = match &c.username {
                Some(u) => settings.set_username(u),
                None => settings,
            };
            match &self.secrets.password {
                Some(p) => settings.set_password(p),
                None => settings,
            }
        };
        // The configured CA replaces the system's trust store (rediss:// only).
        let certs = || {
            self.secrets.ca_bundle.as_ref().map(|pem| TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.as_bytes().to_vec()),
            })
        };
        let connected = match c.mode {
            RedisMode::Standalone => {
                let info = infos
                    .into_iter()
                    .next()
                    .ok_or_else(|| self.error("no URL"))?;
                let settings = with_auth(info.redis_settings().clone());
                let info = info.set_redis_settings(settings);
                let client = match certs() {
                    Some(certs) => redis::Client::build_with_tls(info, certs),
                    None => redis::Client::open(info),
                }
                .map_err(|e| self.error(format!("caBundle: {e}")))?;
                client
                    .get_multiplexed_async_connection_with_config(&io)
                    .await
                    .map(Conn::Single)
            }
            RedisMode::Sentinel => {
                let master = c.master_name.clone().unwrap_or_default();
                let tls = c.urls.iter().any(|u| u.starts_with("rediss:"));
                let settings = with_auth(redis::RedisConnectionInfo::default());
                let mut client = match certs() {
                    None => {
                        let mut node = redis::sentinel::SentinelNodeConnectionInfo::default()
                            .set_redis_connection_info(settings);
                        if tls {
                            node = node.set_tls_mode(redis::TlsMode::Secure);
                        }
                        redis::sentinel::SentinelClient::build(
                            infos,
                            master,
                            Some(node),
                            redis::sentinel::SentinelServerType::Master,
                        )
                    }
                    Some(certs) => self.sentinel_with_ca(infos, &master, certs),
                }
                .map_err(|e| self.error(e))?;
                client
                    .get_async_connection_with_config(&io)
                    .await
                    .map(Conn::Single)
            }
            RedisMode::Cluster => {
                let mut builder = redis::cluster::ClusterClientBuilder::new(infos)
                    .connection_timeout(self.timeout())
                    .response_timeout(self.timeout());
                if let Some(u) = &c.username {
                    builder = builder.username(u);
                }
                if let Some(p) = &self.secrets.password {
                    builder = builder.password(p);
                }
                if let Some(certs) = certs() {
                    builder = builder.certs(certs);
                }
                let client = builder.build().map_err(|e| self.error(e))?;
                client.get_async_connection().await.map(Conn::Cluster)
            }
        };
        connected.map_err(|e| self.connect_error(&e))
    }

    /// A Sentinel client whose connections to the sentinels and to the master verify
    /// TLS against `certs` (the builder is the only way redis-rs takes a CA there).
    fn sentinel_with_ca(
        &self,
        infos: Vec<redis::ConnectionInfo>,
        master: &str,
        certs: TlsCertificates,
    ) -> redis::RedisResult<redis::sentinel::SentinelClient> {
        use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
        let addrs = infos.iter().map(|i| i.addr().clone());
        let mut b = SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)?
            .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
            .set_client_to_redis_certificates(certs.clone())
            .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure)
            .set_client_to_sentinel_certificates(certs);
        if let Some(u) = &self.config.username {
            b = b.set_client_to_redis_username(u);
        }
        if let Some(p) = &self.secrets.password {
            b = b.set_client_to_redis_password(p);
        }
        b.build()
    }
}
