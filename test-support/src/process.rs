//! The real binary as a process: a clean environment, readiness, signals, and its output
//! captured in files (a pipe nobody reads until the end would stall a chatty server).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::ops::Deref;
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::client::{Endpoint, http};

/// How long a process may take to become ready, and to exit after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// The `questpath` binary under test. Cargo tells only the `questpath` package's own test
/// targets where it is, so they pass it in: `Binary::new(env!("CARGO_BIN_EXE_questpath"))`.
#[derive(Debug, Clone, Copy)]
pub struct Binary(&'static str);

impl Binary {
    pub const fn new(path: &'static str) -> Binary {
        Binary(path)
    }

    /// The binary with a clean environment and `dir` as its working directory (so no
    /// `.env` but the test's own), its data in `dir/data`, and `vars`.
    pub fn command(&self, dir: &Path, vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(self.0);
        cmd.env_clear()
            .current_dir(dir)
            .env("QUESTPATH_DATA_DIR", dir.join("data"));
        // A coverage run (scripts/test) counts what the binary runs too: without this the
        // child would write its counters to `default.profraw` in `dir`, a temp dir.
        if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
            cmd.env("LLVM_PROFILE_FILE", profile);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// `questpath` (serve) on a free loopback port; see [`ServerProcess::start`].
    pub fn serve(&self, dir: &Path, vars: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start(*self, dir, vars)
    }

    /// `questpath worker` with its metrics on a free loopback port.
    pub fn worker(&self, dir: &Path, vars: &[(&str, &str)]) -> WorkerProcess {
        WorkerProcess::start(*self, dir, vars)
    }
}

/// Runs a command to its end.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run questpath")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port()
}

/// A child process writing to files; killed if the test ends before stopping it.
struct Child {
    child: std::process::Child,
    logs: tempfile::TempDir,
}

impl Child {
    fn spawn(mut cmd: Command, what: &str) -> Child {
        let logs = tempfile::tempdir().expect("temp dir for logs");
        let file = |name: &str| File::create(logs.path().join(name)).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file("stdout.log"))
            .stderr(file("stderr.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        Child { child, logs }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("query the child")
    }

    /// Waits for the exit (at most [`EXIT_TIMEOUT`]).
    fn wait(&mut self, after: &str) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(started.elapsed() < EXIT_TIMEOUT, "no exit after {after}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics with the standard error if the process has exited.
    fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.exited() {
            panic!("{what} exited with {status}: {}", self.stderr());
        }
    }

    fn stdout_lines(&self) -> Vec<String> {
        let file = File::open(self.logs.path().join("stdout.log")).expect("stdout log");
        BufReader::new(file).lines().map_while(Result::ok).collect()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `questpath` server process. Derefs to its [`Endpoint`] for HTTP and websocket calls.
pub struct ServerProcess {
    endpoint: Endpoint,
    process: Child,
    /// A folder the test handed over to live as long as the process.
    _held: Option<tempfile::TempDir>,
}

impl Deref for ServerProcess {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl ServerProcess {
    /// Starts the server in `dir` (see [`Binary::command`]) on a free loopback port, with
    /// a 5-second shutdown timeout unless `vars` set another.
    pub fn start(bin: Binary, dir: &Path, vars: &[(&str, &str)]) -> ServerProcess {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let mut all = vec![("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "5")];
        all.extend_from_slice(vars);
        all.push(("QUESTPATH_BIND", &bind));
        ServerProcess {
            endpoint: Endpoint::local(port),
            process: Child::spawn(bin.command(dir, &all), "questpath"),
            _held: None,
        }
    }

    /// Keeps `dir` (the process's folder) until the process is gone.
    pub fn hold(mut self, dir: tempfile::TempDir) -> ServerProcess {
        self._held = Some(dir);
        self
    }

    /// Polls `/health` until it answers 200; returns how long that took.
    pub async fn wait_healthy(&mut self) -> Duration {
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            self.process.assert_running("server");
            if let Ok(r) = self.client.get(self.url("/health")).send().await
                && r.status() == 200
            {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server did not answer /health within {START_TIMEOUT:?}");
    }

    /// Sends a signal (`"TERM"`, `"KILL"`, ...) without waiting.
    pub fn signal(&self, signal: &str) {
        self.process.signal(signal);
    }

    /// Waits for the process to exit by itself (at most 20 s).
    pub fn wait(&mut self) -> ExitStatus {
        self.process.wait("waiting")
    }

    /// Sends SIGTERM and waits for the exit; returns the status and the stdout lines.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        self.signal("TERM");
        let status = self.process.wait("SIGTERM");
        (status, self.process.stdout_lines())
    }

    /// Sends SIGKILL (no goodbye) and returns the stdout lines.
    pub fn kill(mut self) -> Vec<String> {
        self.signal("KILL");
        self.process.wait("SIGKILL");
        self.process.stdout_lines()
    }

    /// What the process wrote to stdout so far (its logs).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.process.stdout_lines()
    }
}

/// A `questpath worker` process with its metrics on a free loopback port.
pub struct WorkerProcess {
    /// `http://127.0.0.1:{port}/metrics`
    pub metrics_url: String,
    process: Child,
}

impl WorkerProcess {
    pub fn start(bin: Binary, dir: &Path, vars: &[(&str, &str)]) -> WorkerProcess {
        let bind = format!("127.0.0.1:{}", free_port());
        let mut all = vars.to_vec();
        all.push(("QUESTPATH_WORKER_METRICS_BIND", &bind));
        let mut cmd = bin.command(dir, &all);
        cmd.arg("worker");
        WorkerProcess {
            metrics_url: format!("http://{bind}/metrics"),
            process: Child::spawn(cmd, "questpath worker"),
        }
    }

    /// Waits until the metrics listener accepts connections.
    pub async fn wait_listening(&mut self) {
        let address = self.metrics_url["http://".len()..].trim_end_matches("/metrics");
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            self.process.assert_running("worker");
            if std::net::TcpStream::connect(address).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the worker did not listen on {address} within {START_TIMEOUT:?}");
    }

    /// GET /metrics, with a bearer token if given (after waiting for the listener).
    pub async fn scrape(&mut self, token: Option<&str>) -> reqwest::Response {
        self.wait_listening().await;
        let request = http().get(&self.metrics_url);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.process.signal("TERM");
        self.process.wait("SIGTERM")
    }
}
