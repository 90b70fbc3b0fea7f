//! A Prometheus that serves backfilled blocks and nothing else: no scrape targets and no
//! rule files (its own rule evaluation would write `ALERTS` and recordings at wall-clock
//! times), on a free loopback port, with a retention longer than the data's age (Prometheus
//! deletes blocks beyond retention at start). Stopped by its PID; a dropped server is killed.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stack_client::Prometheus;

use crate::duration;
use crate::tools::Tools;

/// How long Prometheus may take to serve queries after start: opening blocks of a day of
/// a fleet takes a few seconds on two cores.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// How long a stop waits for Prometheus to exit after SIGTERM before killing it.
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// Ports a user's fleet and stack use (8001-8012, 9090, 9093, 9095), never taken here.
const RESERVED: std::ops::RangeInclusive<u16> = 8001..=9095;

/// What went wrong with the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file or folder could not be written.
    #[error("{path}: {cause}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// It did not start, or exited, or did not answer in time.
    #[error("prometheus did not become ready: {why}; its log {log}: {tail}")]
    NotReady {
        /// Why.
        why: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// No free loopback port.
    #[error("no free loopback port outside 8001-9095")]
    NoPort,
}

/// How to run it.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Its TSDB folder (the backfilled blocks).
    pub data_dir: PathBuf,
    /// Where its config and log go.
    pub work_dir: PathBuf,
    /// Blocks older than this (from now) would be deleted: longer than the data's age.
    pub retention: Duration,
    /// `--query.lookback-delta`: how long an instant selector sees a series' last sample.
    pub lookback_delta: Duration,
}

/// A running Prometheus.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    port: u16,
    tools: Tools,
    options: ServerOptions,
    http: reqwest::Client,
}

fn free_port() -> Result<u16, ServerError> {
    for _ in 0..50 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|_| ServerError::NoPort)?;
        let port = listener.local_addr().map_err(|_| ServerError::NoPort)?.port();
        if !RESERVED.contains(&port) {
            return Ok(port);
        }
    }
    Err(ServerError::NoPort)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |cause| ServerError::Io { path: path.to_owned(), cause }
}

impl Server {
    /// Starts Prometheus on `options.data_dir` and waits until it answers queries.
    pub async fn start(
        tools: &Tools,
        options: ServerOptions,
        http: reqwest::Client,
    ) -> Result<Self, ServerError> {
        let mut server = Self { child: None, port: 0, tools: tools.clone(), options, http };
        server.spawn_and_wait().await?;
        Ok(server)
    }

    fn log_path(&self) -> PathBuf {
        self.options.work_dir.join("prometheus.log")
    }

    async fn spawn_and_wait(&mut self) -> Result<(), ServerError> {
        let o = &self.options;
        std::fs::create_dir_all(&o.work_dir).map_err(io(&o.work_dir))?;
        let config = o.work_dir.join("prometheus.yml");
        // No scrape configs, no rule files: it only serves the blocks.
        std::fs::write(&config, "global: {}\n").map_err(io(&config))?;
        let log_path = self.log_path();
        let log = File::options().create(true).append(true).open(&log_path).map_err(io(&log_path))?;
        let log_err = log.try_clone().map_err(io(&log_path))?;
        self.port = free_port()?;
        let child = Command::new(&self.tools.prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", o.data_dir.display()))
            .arg(format!("--storage.tsdb.retention.time={}", duration::format(o.retention)))
            .arg(format!("--query.lookback-delta={}", duration::format(o.lookback_delta)))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| self.not_ready(format!("cannot start {}: {e}", self.tools.prometheus.display())))?;
        self.child = Some(child);
        let client = self.client();
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            if client.query("vector(1)", None).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(self.not_ready(format!("it exited ({status})")));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(self.not_ready(format!("no answer within {READY_LIMIT:?}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn not_ready(&self, why: String) -> ServerError {
        let log = self.log_path();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: String =
            text.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
        ServerError::NotReady { why, log, tail }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client for it, over the engine's one HTTP client.
    pub fn client(&self) -> Prometheus {
        Prometheus::new(self.http.clone(), &self.url())
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops it (SIGTERM to its PID, then SIGKILL after 15 s) and waits for it.
    pub async fn stop(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + STOP_LIMIT;
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
    }

    /// Stops it and starts it again on the same folder (to load blocks added meanwhile).
    pub async fn restart(&mut self) -> Result<(), ServerError> {
        self.stop().await;
        self.spawn_and_wait().await
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
