//! The Redis client behind the Redis session store: connects lazily, bounds every call
//! with the configured timeout, and drops the connection after any failure so the next
//! call connects again (recovery needs no restart; in Sentinel mode it also asks the
//! sentinels again, which follows a failover).

use super::keys::Keys;
use crate::config::{RedisConfig, RedisMode};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, Value};
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

/// One configured Redis, shared by every route that names the same configuration.
pub struct RedisStore {
    config: RedisConfig,
    password: Option<String>,
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
    /// A store for `config` with its resolved `password`; nothing is connected yet.
    pub fn new(config: RedisConfig, password: Option<String>) -> Self {
        Self {
            keys: Keys::new(&config.key_prefix),
            config,
            password,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// The configuration this store was built from.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Whether this store was built from `config` and `password` (reused across reloads).
    pub fn is_for(&self, config: &RedisConfig, password: Option<&str>) -> bool {
        self.config == *config && self.password.as_deref() == password
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

    /// `PING`: whether the store answers now (for `/readyz`).
    pub async fn ping(&self) -> Result<(), RedisError> {
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
            match &self.password {
                Some(p) => settings.set_password(p),
                None => settings,
            }
        };
        let connected = match c.mode {
            RedisMode::Standalone => {
                let info = infos
                    .into_iter()
                    .next()
                    .ok_or_else(|| self.error("no URL"))?;
                let settings = with_auth(info.redis_settings().clone());
                let client = redis::Client::open(info.set_redis_settings(settings))
                    .map_err(|e| self.error(e))?;
                client
                    .get_multiplexed_async_connection_with_config(&io)
                    .await
                    .map(Conn::Single)
            }
            RedisMode::Sentinel => {
                let master = c.master_name.clone().unwrap_or_default();
                let tls = c.urls.iter().any(|u| u.starts_with("rediss:"));
                let settings = with_auth(redis::RedisConnectionInfo::default());
                let mut node = redis::sentinel::SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(settings);
                if tls {
                    node = node.set_tls_mode(redis::TlsMode::Secure);
                }
                let mut client = redis::sentinel::SentinelClient::build(
                    infos,
                    master,
                    Some(node),
                    redis::sentinel::SentinelServerType::Master,
                )
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
                if let Some(p) = &self.password {
                    builder = builder.password(p);
                }
                let client = builder.build().map_err(|e| self.error(e))?;
                client.get_async_connection().await.map(Conn::Cluster)
            }
        };
        connected.map_err(|e| self.error(format!("connect: {e}")))
    }
}
