//! What only a Redis Cluster can show: the keys one script or one multi-key command
//! touches really share a slot (the cluster would refuse the call otherwise, as the
//! first test shows it does), the boards and queues still spread over the masters, and
//! the bus carries a message from an instance that entered the cluster through one
//! node to an instance that entered through another, for channels on every master.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use fred::cmd;
use fred::prelude::*;
use fred::types::cluster::ClusterRouting;
use fred::types::config::{Options, Server};
use questpath::adapters::redis::Redis;
use questpath::config::RedisSettings;
use questpath::ports::{Bus, JobQueue, Leaderboard, ScoreUpdate, Standing};
use uuid::Uuid;

/// A raw client on the test cluster, to look at what the adapters wrote.
async fn raw_client() -> Client {
    let url = questpath_test_support::redis_cluster_url();
    let client = Builder::from_config(Config::from_url(&url).expect("cluster URL"))
        .build()
        .expect("client");
    client
        .init()
        .await
        .expect("connect to the test Redis Cluster");
    client
}

fn masters(client: &Client) -> Vec<Server> {
    client
        .cached_cluster_state()
        .expect("cluster state")
        .unique_primary_nodes()
}

fn on(node: &Server) -> Options {
    Options {
        cluster_node: Some(node.clone()),
        ..Options::default()
    }
}

/// Every key under `prefix`, per master that holds it.
async fn keys_by_master(client: &Client, prefix: &str) -> BTreeMap<Server, Vec<String>> {
    let mut found = BTreeMap::new();
    for master in masters(client) {
        let keys: Vec<String> = client
            .with_options(&on(&master))
            .custom(cmd!("KEYS"), vec![format!("{prefix}*")])
            .await
            .expect("KEYS");
        found.insert(master, keys);
    }
    found
}

async fn keyslot(client: &Client, key: &str) -> u16 {
    client
        .custom(cmd!("CLUSTER"), vec!["KEYSLOT", key])
        .await
        .expect("CLUSTER KEYSLOT")
}

#[tokio::test]
async fn this_cluster_refuses_a_script_over_two_slots() {
    let client = raw_client().await;
    // Two keys of different slots on the same master: fred only refuses keys of two
    // masters itself, so this reaches Redis, which answers CROSSSLOT.
    let routing = client.cached_cluster_state().expect("cluster state");
    let slot_of = |key: &str| ClusterRouting::hash_key(key.as_bytes());
    let first = "k0".to_string();
    let second = (1..1000)
        .map(|i| format!("k{i}"))
        .find(|k| {
            slot_of(k) != slot_of(&first)
                && routing.get_server(slot_of(k)) == routing.get_server(slot_of(&first))
        })
        .expect("another key on the same master");
    let refused = client
        .eval::<Value, _, _, _>("return 1", vec![first, second], Vec::<Value>::new())
        .await
        .expect_err("keys of two slots in one script");
    assert!(refused.to_string().contains("CROSSSLOT"), "{refused}");
    client.quit().await.unwrap();
}

#[tokio::test]
async fn keys_of_one_board_or_queue_share_a_slot_and_spread_over_the_masters() {
    let prefix = format!("{}:", crate::common::unique_name("slots"));
    let settings = RedisSettings {
        url: questpath::config::Secret::new(questpath_test_support::redis_cluster_url()),
        prefix: prefix.clone(),
    };
    let redis = Redis::connect(&settings).await.expect("connect");

    // Twelve boards in one batch: the adapter splits it per board, or the cluster
    // would refuse it with CROSSSLOT.
    let leaderboard = redis.leaderboard();
    let boards: Vec<String> = (0..12).map(|i| format!("board-{i}")).collect();
    let user = Uuid::now_v7();
    let updates: Vec<ScoreUpdate> = boards
        .iter()
        .enumerate()
        .map(|(i, board)| ScoreUpdate {
            board: board.clone(),
            user_id: user,
            standing: Standing {
                score: 10 * i as i64,
                reached_at: Utc::now(),
                entries: 1,
            },
            expires_at: None,
        })
        .collect();
    let placements = leaderboard.apply(&updates).await.expect("apply");
    for (placement, update) in placements.iter().zip(&updates) {
        assert_eq!(
            placement.entry.score, update.standing.score,
            "in input order"
        );
    }
    for board in &boards {
        leaderboard
            .mark_built(board, Utc::now(), None)
            .await
            .expect("mark_built");
    }

    // Six queues, each with a claimed job, a delayed retry and a dead letter.
    let queue = redis
        .job_queue()
        .with_max_attempts(2)
        .with_visibility_timeout(Duration::from_secs(60));
    let queues: Vec<String> = (0..6).map(|i| format!("queue-{i}")).collect();
    for name in &queues {
        queue.enqueue(name, b"retried").await.unwrap();
        queue.enqueue(name, b"dead").await.unwrap();
        let first = queue.claim(name, "w", Duration::ZERO).await.unwrap();
        let first = first.expect("a job");
        assert!(
            queue
                .retry(&first, Duration::from_secs(60), "later")
                .await
                .unwrap()
        );
        let second = queue.claim(name, "w", Duration::ZERO).await.unwrap();
        let second = second.expect("a job");
        queue.retry(&second, Duration::ZERO, "again").await.unwrap();
        let again = queue.claim(name, "w", Duration::ZERO).await.unwrap();
        assert!(
            !queue
                .retry(&again.expect("a job"), Duration::ZERO, "gone")
                .await
                .unwrap()
        );
        assert_eq!(queue.dead_letters(name, 10).await.unwrap().len(), 1);
        queue.enqueue(name, b"waiting").await.unwrap();
    }

    let client = raw_client().await;
    // Group every key by the board or queue it belongs to.
    let mut groups: BTreeMap<String, Vec<(Server, String)>> = BTreeMap::new();
    for (master, keys) in keys_by_master(&client, &prefix).await {
        for key in keys {
            let tag = key
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_prefix('{'))
                .and_then(|rest| rest.split_once('}'))
                .map(|(tag, _)| tag.to_string())
                .unwrap_or_else(|| panic!("{key} has no hash tag right after the prefix"));
            groups.entry(tag).or_default().push((master.clone(), key));
        }
    }
    let expected: BTreeSet<String> = boards
        .iter()
        .map(|b| format!("lb:{b}"))
        .chain(queues.iter().map(|q| format!("jobs:{q}")))
        .collect();
    assert_eq!(groups.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let mut masters_used = BTreeSet::new();
    for (tag, keys) in &groups {
        let wanted = if tag.starts_with("lb:") { 3 } else { 5 };
        assert_eq!(keys.len(), wanted, "{tag}: {keys:?}");
        let mut slots = BTreeSet::new();
        for (master, key) in keys {
            slots.insert(keyslot(&client, key).await);
            masters_used.insert(master.clone());
        }
        assert_eq!(slots.len(), 1, "{tag}: keys on several slots {slots:?}");
        let holders: BTreeSet<&Server> = keys.iter().map(|(m, _)| m).collect();
        assert_eq!(holders.len(), 1, "{tag}: keys on several masters");
    }
    assert_eq!(
        masters_used.len(),
        3,
        "18 boards and queues should use every master"
    );

    leaderboard
        .clear(&boards[0])
        .await
        .expect("clear: one DEL of three keys");
    assert_eq!(leaderboard.len(&boards[0]).await.unwrap(), 0);
    redis.shutdown().await;
    client.quit().await.unwrap();
}

/// The test cluster's URL entering through its `n`-th node instead of the first.
fn url_through_node(n: usize) -> String {
    let url = questpath_test_support::redis_cluster_url();
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (first, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut nodes = vec![first.to_string()];
    nodes.extend(
        query
            .split('&')
            .filter_map(|p| p.strip_prefix("node="))
            .map(str::to_string),
    );
    assert!(
        n < nodes.len(),
        "the test cluster names {} nodes",
        nodes.len()
    );
    nodes.rotate_left(n);
    let others: Vec<String> = nodes[1..].iter().map(|n| format!("node={n}")).collect();
    format!("{scheme}://{}?{}", nodes[0], others.join("&"))
}

#[tokio::test]
async fn a_message_crosses_from_an_instance_on_one_node_to_one_on_another() {
    let prefix = format!("{}:", crate::common::unique_name("bus"));
    let settings = |n| RedisSettings {
        url: questpath::config::Secret::new(url_through_node(n)),
        prefix: prefix.clone(),
    };
    let publisher = Redis::connect(&settings(0)).await.expect("first instance");
    let subscriber = Redis::connect(&settings(2)).await.expect("second instance");
    let client = raw_client().await;
    let routing: ClusterRouting = client.cached_cluster_state().expect("cluster state");

    // Topics whose channels live on each of the three masters.
    let topics: Vec<String> = (0..24).map(|i| format!("room:{i}")).collect();
    let owners: BTreeSet<Server> = topics
        .iter()
        .map(|t| {
            let channel = format!("{prefix}bus:{t}");
            routing
                .get_server(ClusterRouting::hash_key(channel.as_bytes()))
                .expect("slot owner")
                .clone()
        })
        .collect();
    assert_eq!(owners.len(), 3, "channels on every master: {owners:?}");

    let (bus_in, bus_out) = (subscriber.bus(), publisher.bus());
    let mut subscriptions = Vec::new();
    for topic in &topics {
        subscriptions.push(bus_in.subscribe(topic).await.expect("subscribe"));
    }
    for topic in &topics {
        bus_out
            .publish(topic, topic.as_bytes())
            .await
            .expect("publish");
    }
    for subscription in &mut subscriptions {
        let message = tokio::time::timeout(Duration::from_secs(2), subscription.recv())
            .await
            .unwrap_or_else(|_| panic!("nothing on {} within 2 s", subscription.topic))
            .expect("bus open");
        assert_eq!(message, subscription.topic.as_bytes());
    }
    publisher.shutdown().await;
    subscriber.shutdown().await;
    client.quit().await.unwrap();
}

/// Redis drops the sharded subscriptions of a slot that moves to another master, and
/// tells the client in a way fred discards: the heartbeat notices the new slot map and
/// subscribes again, so the topic's messages come back within about 10 s.
#[tokio::test]
async fn a_topic_whose_slot_moves_to_another_master_is_delivered_again() {
    let cluster = questpath_test_support::OwnRedisCluster::start(&["noeviction"; 3]);
    let settings = RedisSettings {
        url: questpath::config::Secret::new(cluster.url()),
        prefix: "move:".to_string(),
    };
    let publisher = Redis::connect(&settings).await.expect("first instance");
    let subscriber = Redis::connect(&settings).await.expect("second instance");
    let (bus_out, bus_in) = (publisher.bus(), subscriber.bus());
    let mut subscription = bus_in.subscribe("room:moving").await.expect("subscribe");
    bus_out.publish("room:moving", b"before").await.unwrap();
    let before = tokio::time::timeout(Duration::from_secs(2), subscription.recv()).await;
    assert_eq!(before.expect("delivered").expect("open"), b"before");

    // Move the channel's (empty) slot to the next master: the target first, then the
    // others, as CLUSTER SETSLOT asks.
    let slot = ClusterRouting::hash_key(b"move:bus:room:moving");
    let slot_text = slot.to_string();
    let keyslot = cluster.cli(
        cluster.ports[0],
        &["cluster", "keyslot", "move:bus:room:moving"],
    );
    assert_eq!(keyslot, slot_text);
    let ids: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| cluster.cli(*p, &["cluster", "myid"]))
        .collect();
    let source = cluster
        .ports
        .iter()
        .position(|p| {
            cluster.cli(*p, &["cluster", "nodes"]).lines().any(|l| {
                l.contains("myself") && slot_ranges(l).any(|(a, b)| (a..=b).contains(&slot))
            })
        })
        .unwrap_or_else(|| panic!("no master owns slot {slot}"));
    let target = (source + 1) % cluster.ports.len();
    let order = [target, source, (source + 2) % cluster.ports.len()];
    for at in order {
        cluster.cli(
            cluster.ports[at],
            &["cluster", "setslot", &slot_text, "node", &ids[target]],
        );
    }

    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no message after the slot moved"
        );
        bus_out.publish("room:moving", b"after").await.unwrap();
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(500), subscription.recv()).await
        {
            assert_eq!(message, b"after");
            break;
        }
    }
    publisher.shutdown().await;
    subscriber.shutdown().await;
}

/// The slot ranges a `CLUSTER NODES` line lists (fields 9 on: `a-b` or `a`).
fn slot_ranges(line: &str) -> impl Iterator<Item = (u16, u16)> + '_ {
    line.split_whitespace().skip(8).filter_map(|range| {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}
