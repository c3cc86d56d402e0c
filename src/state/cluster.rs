//! One Redis or a Redis Cluster, behind one small enum each for the client and its
//! connection, so the scripts (`EVALSHA`, `EVAL` on `NOSCRIPT` through `Script`), the plain
//! commands, the watcher, the statistics, the keys' counters and the conversation store in
//! `state::redis` run on either with a `match`, not a `dyn`. A cluster connection routes
//! each command to the node holding its key's hash slot (every script's keys share one hash
//! tag, so one slot), follows `MOVED`/`ASK`, and reconnects to nodes by itself; it answers
//! within the same connect and response timeouts as one node.

use redis::aio::MultiplexedConnection;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue, RedisError, RedisResult, ScriptInvocation};

use super::config::is_tls;
use super::redis::{COMMAND_TIMEOUT, CONNECT_TIMEOUT};

/// Retries of one command inside the cluster client (a `MOVED`, a node reconnecting);
/// they all fit in [`COMMAND_TIMEOUT`], which bounds the whole command.
const CLUSTER_RETRIES: u32 = 2;

/// Where the shared state lives: one node, or a cluster found from its startup nodes (and a
/// client of each of them alone, to ask why the cluster cannot be reached).
#[expect(clippy::large_enum_variant, reason = "one client per gateway, made once at start-up")]
pub enum Client {
    Node(redis::Client),
    Cluster { cluster: ClusterClient, nodes: Vec<redis::Client> },
}

/// A live connection to [`Client`]; cheap to clone (both are multiplexed handles).
#[derive(Clone)]
pub enum Connection {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Client {
    /// The cluster client for `nodes` (password and TLS as the first node says), with the
    /// state's timeouts; `certificates` replace the roots when `SSL_CERT_FILE` adds some.
    pub fn cluster(
        nodes: Vec<redis::ConnectionInfo>,
        certificates: Option<redis::TlsCertificates>,
    ) -> RedisResult<Self> {
        let alone = nodes
            .iter()
            .map(|node| match &certificates {
                Some(certificates) => redis::Client::build_with_tls(node.clone(), certificates.clone()),
                None => redis::Client::open(node.clone()),
            })
            .collect::<RedisResult<Vec<_>>>()?;
        let mut builder = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(COMMAND_TIMEOUT)
            .retries(CLUSTER_RETRIES);
        if let Some(certificates) = certificates {
            builder = builder.certs(certificates);
        }
        Ok(Client::Cluster { cluster: builder.build()?, nodes: alone })
    }

    /// Opens a connection: to the node, or to the cluster (its slot map read from a startup
    /// node, a connection to each primary). Not bounded here: the caller bounds it.
    pub async fn connect(&self) -> RedisResult<Connection> {
        match self {
            Client::Node(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(COMMAND_TIMEOUT));
                client.get_multiplexed_async_connection_with_config(&config).await.map(Connection::Node)
            }
            Client::Cluster { cluster, nodes } => match cluster.get_async_connection().await {
                Ok(conn) => Ok(Connection::Cluster(conn)),
                Err(e) => Err(why(nodes).await.unwrap_or(e)),
            },
        }
    }
}

/// Why no startup node let the cluster client in, asked of each node alone: the cluster
/// client folds a refused password or TLS handshake into an I/O error, which would read as an
/// outage. The first node that answers at all tells (`None`: it let us in, or none answered).
async fn why(nodes: &[redis::Client]) -> Option<RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    for node in nodes {
        match node.get_multiplexed_async_connection_with_config(&config).await {
            Ok(_) => return None,
            Err(e) if e.is_io_error() && !is_tls(&e) => {}
            Err(e) => return Some(e),
        }
    }
    None
}

impl Connection {
    /// Runs a script by its SHA-1, loading it first where the server does not know it (on a
    /// cluster, `SCRIPT LOAD` goes to every primary).
    pub async fn invoke<T: FromRedisValue>(&mut self, invocation: &ScriptInvocation<'_>) -> RedisResult<T> {
        match self {
            Connection::Node(conn) => invocation.invoke_async(conn).await,
            Connection::Cluster(conn) => invocation.invoke_async(conn).await,
        }
    }

    /// Runs one command (on a cluster: on its key's node; `PING` on every primary).
    pub async fn query<T: FromRedisValue>(&mut self, command: &Cmd) -> RedisResult<T> {
        match self {
            Connection::Node(conn) => command.query_async(conn).await,
            Connection::Cluster(conn) => command.query_async(conn).await,
        }
    }
}
