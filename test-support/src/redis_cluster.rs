//! A Redis Cluster of the test's own: three (or more) cluster-enabled `redis-server`s on
//! free loopback ports, joined with `redis-cli --cluster create`, killed when dropped.
//! For tests that change the cluster (its policies, its slots), which the shared test
//! cluster of `scripts/test` must not see.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

pub struct OwnRedisCluster {
    children: Vec<Child>,
    /// The masters' client ports, in creation order.
    pub ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl OwnRedisCluster {
    /// One master per `maxmemory-policy` given, waiting until every node reports
    /// `cluster_state:ok`.
    pub fn start(policies: &[&str]) -> OwnRedisCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_str().expect("utf-8 path").to_string();
        // Built first, so the nodes are killed if a step below panics.
        let mut cluster = OwnRedisCluster {
            children: Vec::new(),
            ports: Vec::new(),
            _dir: dir,
        };
        for policy in policies {
            let (port, bus) = (free_port(), free_port());
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus.to_string(),
                ])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--dir", &path])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--maxmemory-policy", policy])
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server (scripts/test installs it from Debian)");
            cluster.children.push(child);
            cluster.ports.push(port);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in &cluster.ports {
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not listen");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli");
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.ports.iter().all(|p| cluster_ok(*p)) {
            assert!(Instant::now() < deadline, "cluster_state never became ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// `redis-cluster://` naming every node.
    pub fn url(&self) -> String {
        let others: Vec<String> = self.ports[1..]
            .iter()
            .map(|p| format!("node=127.0.0.1:{p}"))
            .collect();
        format!(
            "redis-cluster://127.0.0.1:{}?{}",
            self.ports[0],
            others.join("&")
        )
    }

    /// `redis-cli -p port args...`, its output; panics if it fails.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        assert!(out.status.success(), "redis-cli {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
}

impl Drop for OwnRedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
