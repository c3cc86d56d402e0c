//! A real Redis Cluster for tests/it/shared_cluster.rs: three `redis-server --cluster-enabled
//! yes` primaries on free loopback ports (client and bus), each in a temp dir of its own, with
//! one random password (`--requirepass`, `--masterauth`), joined by `redis-cli --cluster
//! create` and ready once every node says `cluster_state:ok`. Killed on drop; a node can be
//! killed and started again (it rejoins from its `nodes.conf`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the cluster gets to form (or a node to rejoin).
const READY_WITHIN: Duration = Duration::from_secs(20);
/// Pause between two readiness probes.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// How long a silent node takes to be marked failed: short, so a killed node's slots fail fast.
const NODE_TIMEOUT_MS: &str = "1000";
/// Primaries in the cluster.
pub const NODES: usize = 3;

struct Node {
    port: u16,
    bus: u16,
    dir: PathBuf,
    child: Option<Child>,
}

pub struct RedisCluster {
    nodes: Vec<Node>,
    pub password: String,
    root: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl RedisCluster {
    /// Starts three primaries, creates the cluster and waits until it serves.
    pub async fn start() -> Self {
        let root = std::env::temp_dir().join(format!("model-router-redis-cluster-{:016x}", fastrand::u64(..)));
        let nodes = (0..NODES)
            .map(|i| Node { port: free_port(), bus: free_port(), dir: root.join(i.to_string()), child: None })
            .collect();
        let mut cluster = RedisCluster { nodes, password: format!("pw-{:032x}", fastrand::u128(..)), root };
        for i in 0..NODES {
            cluster.spawn(i);
        }
        for i in 0..NODES {
            cluster.wait(i, false).await;
        }
        let addrs: Vec<String> = cluster.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let created = Command::new("redis-cli")
            .args(["-a", &cluster.password, "--no-auth-warning", "--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-cli ({e}): it comes with redis-server (Debian's redis-tools)")
            });
        assert!(created.success(), "redis-cli --cluster create {addrs:?}");
        for i in 0..NODES {
            cluster.wait(i, true).await;
        }
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        std::fs::create_dir_all(&node.dir).unwrap();
        let (port, bus) = (node.port.to_string(), node.bus.to_string());
        let child = Command::new("redis-server")
            .args(["--port", &port, "--cluster-enabled", "yes", "--cluster-port", &bus])
            .args(["--cluster-config-file", "nodes.conf", "--cluster-node-timeout", NODE_TIMEOUT_MS])
            .args(["--bind", "127.0.0.1", "--requirepass", &self.password, "--masterauth", &self.password])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&node.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run redis-server ({e}): apt-get install redis-server"));
        node.child = Some(child);
    }

    /// Waits until node `i` answers PING (`serving`: and says the cluster serves).
    async fn wait(&self, i: usize, serving: bool) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let ready = if serving { self.state_ok(i).await } else { self.node(i).await.is_some() };
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "redis cluster node {i} not ready (serving: {serving})");
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }

    /// Whether node `i` says the whole cluster serves.
    async fn state_ok(&self, i: usize) -> bool {
        let Some(mut conn) = self.node(i).await else { return false };
        let info: String = redis::cmd("CLUSTER").arg("INFO").query_async(&mut conn).await.unwrap_or_default();
        info.lines().any(|l| l.trim() == "cluster_state:ok")
    }

    /// `[{"host": "127.0.0.1", "port": <port>}, ...]`: LiteLLM's `REDIS_CLUSTER_NODES`.
    pub fn nodes_json(&self) -> String {
        let nodes: Vec<serde_json::Value> =
            self.nodes.iter().map(|n| serde_json::json!({ "host": "127.0.0.1", "port": n.port })).collect();
        serde_json::Value::Array(nodes).to_string()
    }

    /// A plain connection of the test's own to node `i`, if it answers PING.
    pub async fn node(&self, i: usize) -> Option<redis::aio::MultiplexedConnection> {
        let url = format!("redis://:{}@127.0.0.1:{}", self.password, self.nodes[i].port);
        let client = redis::Client::open(url).ok()?;
        let mut conn =
            tokio::time::timeout(Duration::from_secs(1), client.get_multiplexed_async_connection()).await.ok()?.ok()?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
        (pong == "PONG").then_some(conn)
    }

    /// A cluster connection of the test's own (commands go to their key's node).
    pub async fn connection(&self) -> redis::cluster_async::ClusterConnection {
        let nodes: Vec<String> =
            self.nodes.iter().map(|n| format!("redis://:{}@127.0.0.1:{}", self.password, n.port)).collect();
        redis::cluster::ClusterClient::new(nodes).unwrap().get_async_connection().await.unwrap()
    }

    /// The node serving `key`'s hash slot, asked of every node.
    pub async fn owner(&self, key: &str) -> usize {
        let mut conn = self.node(0).await.expect("node 0 answers");
        let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query_async(&mut conn).await.unwrap();
        let shards: redis::Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(&mut conn).await.unwrap();
        let redis::Value::Array(ranges) = shards else { panic!("CLUSTER SLOTS: {shards:?}") };
        for range in ranges {
            let redis::Value::Array(fields) = range else { continue };
            let (redis::Value::Int(from), redis::Value::Int(to)) = (&fields[0], &fields[1]) else { continue };
            if (*from..=*to).contains(&i64::from(slot)) {
                let redis::Value::Array(primary) = &fields[2] else { panic!("{fields:?}") };
                let redis::Value::Int(port) = primary[1] else { panic!("{primary:?}") };
                return self.nodes.iter().position(|n| i64::from(n.port) == port).expect("a node of ours");
            }
        }
        panic!("no node serves slot {slot} of {key}")
    }

    /// Kills node `i` (one primary lost).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) node `i`: it accepts connections but answers
    /// nothing while frozen.
    pub fn signal(&self, i: usize, signal: &str) {
        let pid = self.nodes[i].child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().expect("kill").success(), "kill {signal} {pid}");
    }

    /// Starts node `i` again on its port and `nodes.conf` (empty of data), and waits until
    /// every node says the cluster serves again.
    pub async fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        for j in 0..NODES {
            self.wait(j, true).await;
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for i in 0..NODES {
            if let Some(child) = &self.nodes[i].child {
                let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            }
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
