//! `serve` on a Redis Cluster: it starts on the test cluster, and refuses (exit 2, one
//! line naming the node) a cluster where any one master may evict keys.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use questpath_test_support::{free_port, http, redis_cluster_url, run};

use crate::BIN;

#[tokio::test]
async fn serve_runs_on_a_redis_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let url = redis_cluster_url();
    let prefix = format!("cli_{}:", uuid::Uuid::new_v4().simple());
    let mut server = BIN.serve(
        dir.path(),
        &[
            ("QUESTPATH_REDIS_URL", &url),
            ("QUESTPATH_REDIS_PREFIX", &prefix),
        ],
    );
    server.wait_healthy().await;
    let ready: serde_json::Value = http()
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, _) = server.terminate();

    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(status.success());
}

/// Three cluster-enabled redis-servers of the test's own joined into one cluster;
/// killed when dropped.
struct OwnCluster {
    children: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl OwnCluster {
    /// One master per policy.
    fn start(policies: &[&str]) -> OwnCluster {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap().to_string();
        // Built first, so the nodes are killed if a step below panics.
        let mut cluster = OwnCluster {
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

    fn url(&self) -> String {
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
}

fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn serve_refuses_a_cluster_where_one_master_may_evict_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = OwnCluster::start(&["noeviction", "noeviction", "allkeys-lru"]);

    let refused = run(BIN
        .command(dir.path(), &[("QUESTPATH_REDIS_URL", &cluster.url())])
        .arg("serve"));

    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    let culprit = format!(
        "maxmemory-policy is allkeys-lru on 127.0.0.1:{}",
        cluster.ports[2]
    );
    assert!(stderr.contains(&culprit), "{stderr}");
}
