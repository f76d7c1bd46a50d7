//! `serve` on a Redis Cluster: it starts on the test cluster, and refuses (exit 2, one
//! line naming the node) a cluster where any one master may evict keys.

use questpath_test_support::{OwnRedisCluster, http, redis_cluster_url, run};

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

#[test]
fn serve_refuses_a_cluster_where_one_master_may_evict_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = OwnRedisCluster::start(&["noeviction", "noeviction", "allkeys-lru"]);

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
