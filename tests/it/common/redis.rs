//! A real redis-server for the shared-state tests: started on a free loopback port with a
//! random password (never the system service), no persistence, killed on drop. A machine
//! without `redis-server` fails these tests with the command that installs it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting server gets to answer PING.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// Pause between two readiness probes.
const PROBE_EVERY: Duration = Duration::from_millis(20);

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    pub password: String,
    /// With TLS only: the certificate, key and CA files it serves with.
    tls: Option<[PathBuf; 3]>,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let password = format!("pw-{:032x}", fastrand::u128(..));
        let mut server = RedisServer { child: None, port, password, tls: None };
        server.restart().await;
        server
    }

    /// Starts a server that speaks only TLS, with a certificate for `localhost` signed by a
    /// new CA; returns it and the CA's PEM file.
    pub async fn start_tls() -> (Self, PathBuf) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        let dir = std::env::temp_dir().join(format!("model-router-redis-tls-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let files = [dir.join("server.pem"), dir.join("server.key"), dir.join("ca.pem")];
        for (file, text) in files.iter().zip([cert.pem(), key.serialize_pem(), ca.pem()]) {
            std::fs::write(file, text).unwrap();
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let password = format!("pw-{:032x}", fastrand::u128(..));
        let ca_file = files[2].clone();
        let mut server = RedisServer { child: None, port, password, tls: Some(files) };
        server.restart().await;
        (server, ca_file)
    }

    /// A port nothing listens on (a Redis that is down).
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Starts (again) on the same port and password, empty, and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        match &self.tls {
            None => command.args(["--port", &port]),
            Some([cert, key, ca]) => {
                command.args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"]).args([
                    "--tls-cert-file".as_ref(),
                    cert.as_os_str(),
                    "--tls-key-file".as_ref(),
                    key.as_os_str(),
                    "--tls-ca-cert-file".as_ref(),
                    ca.as_os_str(),
                ])
            }
        };
        let spawned = command
            .args(["--bind", "127.0.0.1", "--requirepass", &self.password])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn();
        let child = spawned.unwrap_or_else(|e| {
            panic!(
                "cannot run redis-server ({e}): the shared-state tests need Debian's redis-server on PATH \
                 (apt-get install redis-server, or scripts/setup-packaging as root)"
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        while !self.answers().await {
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer", self.port);
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }

    /// Kills the server (a Redis outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: it keeps accepting connections
    /// but answers nothing while frozen.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().expect("kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Whether the server accepts connections (and, without TLS, answers PING).
    async fn answers(&self) -> bool {
        if self.tls.is_some() {
            return tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok();
        }
        self.connection().await.is_some()
    }

    pub fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}", self.password, self.port)
    }

    /// A connection of the test's own, or `None` if the server does not answer PING.
    pub async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url()).ok()?;
        let connect = client.get_multiplexed_async_connection();
        let mut conn = tokio::time::timeout(Duration::from_secs(1), connect).await.ok()?.ok()?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
        (pong == "PONG").then_some(conn)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
        }
        self.stop();
        if let Some([_, _, ca]) = &self.tls {
            let _ = std::fs::remove_dir_all(ca.parent().unwrap());
        }
    }
}
