//! nginx in front of test servers, configured by the deployment's own
//! `deploy/nginx/questpath.conf` with only its listen address and its upstream servers'
//! ports replaced, so the test proves the file operators install.
//!
//! The binary is Debian's (`scripts/services/nginx.sh` installs it; `scripts/test` exports
//! its path as `QUESTPATH_TEST_NGINX`). It runs unprivileged-style from a temp prefix: its
//! pid file, logs and temp folders live there, nothing under /etc or /var is touched.

use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Endpoint;
use crate::process::free_port;
use crate::services::required_env;

const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The deployment's nginx configuration (`deploy/nginx/questpath.conf`).
pub fn deploy_config() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/questpath.conf");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `deploy` listening on `127.0.0.1:{listen}` in front of `upstreams` (loopback ports),
/// nothing else changed. Panics when the file no longer has the one `listen 80;` and one
/// `server 127.0.0.1:PORT ...;` line per upstream that this replaces, so a reshaped
/// deploy file cannot leave the test running some other configuration.
pub fn config_for(deploy: &str, listen: u16, upstreams: &[u16]) -> String {
    let mut listens = 0;
    let mut servers = 0;
    let lines: Vec<String> = deploy
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            if trimmed == "listen 80;" {
                listens += 1;
                return format!("{indent}listen 127.0.0.1:{listen};");
            }
            if let Some(rest) = trimmed.strip_prefix("server 127.0.0.1:") {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                let port = upstreams.get(servers).unwrap_or_else(|| {
                    panic!("deploy config has more upstream servers than {upstreams:?}")
                });
                servers += 1;
                return format!("{indent}server 127.0.0.1:{port}{}", &rest[digits..]);
            }
            line.to_string()
        })
        .collect();
    assert_eq!(listens, 1, "deploy config: expected one `listen 80;`");
    assert_eq!(
        servers,
        upstreams.len(),
        "deploy config: expected one `server 127.0.0.1:PORT` per upstream"
    );
    lines.join("\n") + "\n"
}

/// The `nginx.conf` around the site file: the process's files under `dir`, and an access
/// log that shows the forwarded-for chain and the upstream each request went to.
fn main_config(dir: &Path, site: &Path) -> String {
    let d = dir.display();
    format!(
        "daemon off;
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format upstreams '$remote_addr \"$http_x_forwarded_for\" $upstream_addr $status \"$request\"';
    access_log {d}/access.log upstreams;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {site};
}}
",
        site = site.display()
    )
}

/// A running nginx. Derefs to its [`Endpoint`]; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Nginx {
    endpoint: Endpoint,
    child: Child,
    dir: tempfile::TempDir,
}

impl Deref for Nginx {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Nginx {
    /// The binary `scripts/test` found or installed (`QUESTPATH_TEST_NGINX`).
    pub fn binary() -> PathBuf {
        PathBuf::from(required_env("QUESTPATH_TEST_NGINX"))
    }

    /// Starts nginx with the deploy configuration in front of `upstreams` and waits until
    /// it accepts connections.
    pub async fn start(upstreams: &[u16]) -> Nginx {
        let dir = tempfile::tempdir().expect("temp dir for nginx");
        // Workers drop root to `nobody` when the suite runs as root (CI): they must be
        // able to reach their temp folders.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let site = dir.path().join("questpath.conf");
        fs::write(&site, config_for(&deploy_config(), port, upstreams)).unwrap();
        let conf = dir.path().join("nginx.conf");
        fs::write(&conf, main_config(dir.path(), &site)).unwrap();
        let stderr = fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(Self::binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", Self::binary().display()));
        let mut nginx = Nginx {
            endpoint: Endpoint::local(port),
            child,
            dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited with {status}: {}", nginx.error_log());
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "nginx did not listen on {port}: {}",
                nginx.error_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nginx
    }

    /// Its address with a client (outliving `self`, for tasks).
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    /// The access log so far (`remote "x-forwarded-for" upstream status "request"`).
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The error log and what nginx wrote to stderr.
    pub fn error_log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        read("stderr.log") + &read("error.log")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would leave them running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listen_address_and_the_upstream_ports_change() {
        let deploy = deploy_config();
        let config = config_for(&deploy, 4567, &[1001, 1002, 1003]);
        let changed: Vec<(&str, &str)> = deploy
            .lines()
            .zip(config.lines())
            .filter(|(a, b)| a != b)
            .collect();

        assert_eq!(deploy.lines().count(), config.lines().count());
        assert_eq!(changed.len(), 4, "{changed:?}");
        assert!(config.contains("    listen 127.0.0.1:4567;\n"));
        for port in [1001, 1002, 1003] {
            assert!(config.contains(&format!("server 127.0.0.1:{port} max_fails=")));
        }
    }

    #[test]
    #[should_panic(expected = "one `server 127.0.0.1:PORT` per upstream")]
    fn a_deploy_file_with_fewer_upstreams_is_refused() {
        config_for(&deploy_config(), 4567, &[1001, 1002, 1003, 1004]);
    }
}
