//! The HTTP side of the protocol, as a client uses it: accounts, goals, topics, tickets,
//! plus the server's `/metrics` and `/ready` for the report.
//!
//! One `reqwest::Client` per source address, each with its own connection pool, so HTTP
//! traffic is spread over the source addresses like the websockets. Proxies from the
//! environment are ignored and redirects are not followed: every request goes to the
//! checked loopback target and nowhere else.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::net::Sources;
use crate::target::Target;

/// Setup requests refused with 429 or 503 are retried this often, after the server's
/// `Retry-After` (capped by [`MAX_RETRY_WAIT`]): a run started against default rate
/// limits gets slow, not wrong.
const SETUP_ATTEMPTS: u32 = 6;
const MAX_RETRY_WAIT: Duration = Duration::from_secs(15);

/// Tokens handed out at sign-in.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
}

/// A roadmap-generation job as far as the generator cares.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: String,
    pub status: String,
    pub goal_id: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JobAccepted {
    job: Job,
}

/// A topic of a level.
#[derive(Debug, Clone, Deserialize)]
pub struct Topic {
    pub index: u32,
    pub completed: bool,
}

/// A level of a roadmap.
#[derive(Debug, Clone, Deserialize)]
pub struct Level {
    pub id: String,
    pub order: u32,
    pub topics: Vec<Topic>,
}

#[derive(Debug, Deserialize)]
struct Roadmap {
    levels: Vec<Level>,
}

#[derive(Debug, Deserialize)]
struct Goal {
    roadmap: Roadmap,
}

#[derive(Debug, Deserialize)]
struct Ticket {
    ticket: String,
}

/// A room just created (`POST /api/v1/rooms`), as far as the generator cares.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedRoom {
    pub room_id: String,
    pub code: String,
    pub max_players: u32,
    pub question_count: u32,
}

/// What the report takes from the server's Prometheus text.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ServerSample {
    /// `process_resident_memory_bytes`.
    pub rss_bytes: Option<f64>,
    /// `process_cpu_seconds_total`.
    pub cpu_seconds: Option<f64>,
    /// `process_open_fds`.
    pub open_fds: Option<f64>,
}

/// The server's API, reached from every source address in turn.
pub struct Api {
    target: Target,
    clients: Vec<Client>,
    metrics_token: Option<String>,
    /// Ticket requests sent again after a transport failure or a 408 (see [`Api::ticket`]).
    ticket_retries: std::sync::atomic::AtomicU64,
}

impl Api {
    /// One client per source address; `pool` idle keep-alive connections each.
    pub fn new(
        target: &Target,
        sources: &Sources,
        pool: usize,
        timeout: Duration,
        metrics_token: Option<String>,
    ) -> anyhow::Result<Api> {
        let clients = sources
            .all()
            .iter()
            .map(|ip| {
                Client::builder()
                    .local_address(IpAddr::V4(*ip))
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    .pool_max_idle_per_host(pool)
                    // Under the server's 5 s keep-alive: a connection the server closes
                    // while it is being reused fails the request ("connection closed
                    // before message completed", 5 of 4,002 level passes in a run).
                    .pool_idle_timeout(Duration::from_secs(4))
                    .tcp_nodelay(true)
                    .timeout(timeout)
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .with_context(|| format!("building an HTTP client bound to {ip}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Api {
            target: target.clone(),
            clients,
            metrics_token,
            ticket_retries: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The same client setup (sources, pool, metrics token) towards another target: a
    /// second server instance.
    pub fn for_target(
        &self,
        target: &Target,
        sources: &Sources,
        pool: usize,
        timeout: Duration,
    ) -> anyhow::Result<Api> {
        Api::new(target, sources, pool, timeout, self.metrics_token.clone())
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The client of the i-th source address (wrapping).
    pub fn client(&self, i: usize) -> &Client {
        &self.clients[i % self.clients.len()]
    }

    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// A request on client `via`, with the bearer token when given.
    pub fn request(
        &self,
        via: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> RequestBuilder {
        let builder = self.client(via).request(method, self.target.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends a setup request (retrying 429 and 503 after `Retry-After`) and decodes a
    /// 2xx JSON body; anything else is an error naming the route and the status.
    async fn setup<T: DeserializeOwned>(
        &self,
        via: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let response = self
            .setup_response(via, method.clone(), path, token, body)
            .await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {path}: reading the body"))?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{method} {path}: unexpected {status} body {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })
    }

    async fn setup_response(
        &self,
        via: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.request(via, method.clone(), path, token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("{method} {path}"))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let retryable = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            if retryable && attempt < SETUP_ATTEMPTS {
                let wait = retry_after(&response).min(MAX_RETRY_WAIT);
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            bail!(
                "{method} {path}: {status} {}{}",
                text.chars().take(300).collect::<String>(),
                if status == StatusCode::TOO_MANY_REQUESTS {
                    " (start the server with generous QUESTPATH_RATE_LIMIT_* values; see load-tests/README.md)"
                } else {
                    ""
                }
            );
        }
    }

    /// Creates an account (and signs it in).
    pub async fn register(
        &self,
        via: usize,
        email: &str,
        password: &str,
    ) -> anyhow::Result<Tokens> {
        let body = json!({ "email": email, "password": password, "display_name": "Load" });
        self.setup(
            via,
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&body),
        )
        .await
    }

    /// Signs an existing account in.
    pub async fn login(&self, via: usize, email: &str, password: &str) -> anyhow::Result<Tokens> {
        let body = json!({ "email": email, "password": password });
        self.setup(via, Method::POST, "/api/v1/auth/login", None, Some(&body))
            .await
    }

    /// Queues a goal; returns its generation job.
    pub async fn create_goal(
        &self,
        via: usize,
        token: &str,
        description: &str,
    ) -> anyhow::Result<Job> {
        let body = json!({ "description": description });
        let accepted: JobAccepted = self
            .setup(via, Method::POST, "/api/v1/goals", Some(token), Some(&body))
            .await?;
        Ok(accepted.job)
    }

    pub async fn job(&self, via: usize, token: &str, job_id: &str) -> anyhow::Result<Job> {
        self.setup(
            via,
            Method::GET,
            &format!("/api/v1/jobs/{job_id}"),
            Some(token),
            None,
        )
        .await
    }

    /// The levels of a goal's roadmap, in roadmap order.
    pub async fn levels(
        &self,
        via: usize,
        token: &str,
        goal_id: &str,
    ) -> anyhow::Result<Vec<Level>> {
        let goal: Goal = self
            .setup(
                via,
                Method::GET,
                &format!("/api/v1/goals/{goal_id}"),
                Some(token),
                None,
            )
            .await?;
        let mut levels = goal.roadmap.levels;
        levels.sort_by_key(|l| l.order);
        Ok(levels)
    }

    /// Ticks one topic of a level.
    pub async fn complete_topic(
        &self,
        via: usize,
        token: &str,
        level_id: &str,
        index: u32,
    ) -> anyhow::Result<()> {
        let body = json!({ "completed": true });
        let path = format!("/api/v1/levels/{level_id}/topics/{index}");
        let _: Value = self
            .setup(via, Method::PUT, &path, Some(token), Some(&body))
            .await?;
        Ok(())
    }

    /// Passes a level the old client's way: the quiz handed out, then a passing
    /// submit (one XP grant on a first pass). The XP earned.
    pub async fn pass_level_legacy(
        &self,
        via: usize,
        token: &str,
        level_id: &str,
    ) -> anyhow::Result<i64> {
        let _: Value = self
            .setup(
                via,
                Method::GET,
                &format!("/levels/{level_id}/quiz"),
                Some(token),
                None,
            )
            .await?;
        let body = json!({ "score": 100, "passed": true, "time_taken": 60 });
        let result: Value = self
            .setup(
                via,
                Method::POST,
                &format!("/levels/{level_id}/quiz/submit"),
                Some(token),
                Some(&body),
            )
            .await?;
        Ok(result["xp_earned"].as_i64().unwrap_or(0))
    }

    /// A websocket ticket. Asked once more, as a client does, when the request never got
    /// an answer (a keep-alive connection the server closed as it was reused) or got a
    /// 408 (the server's wait for the request ran out while this process was starved of
    /// CPU): a ticket is safe to ask for twice. Those second tries are counted
    /// ([`Api::ticket_retries`]); a second failure is the connection's failure.
    pub async fn ticket(&self, via: usize, token: &str) -> anyhow::Result<String> {
        let send = || {
            self.request(via, Method::POST, "/api/v1/ws/ticket", Some(token))
                .send()
        };
        let response = match send().await {
            Ok(response) if response.status() != StatusCode::REQUEST_TIMEOUT => response,
            Ok(_) | Err(_) => {
                self.ticket_retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                send().await.context("POST /api/v1/ws/ticket")?
            }
        };
        let status = response.status();
        if !status.is_success() {
            bail!("POST /api/v1/ws/ticket: {status}");
        }
        let ticket: Ticket = response
            .json()
            .await
            .context("POST /api/v1/ws/ticket: body")?;
        Ok(ticket.ticket)
    }

    /// How many ticket requests were sent a second time.
    pub fn ticket_retries(&self) -> u64 {
        self.ticket_retries
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The server's process figures from `GET /metrics`.
    pub async fn server_sample(&self) -> anyhow::Result<ServerSample> {
        Ok(parse_metrics(&self.metrics_text().await?))
    }

    /// The server's whole Prometheus text from `GET /metrics`.
    pub async fn metrics_text(&self) -> anyhow::Result<String> {
        let mut request = self.request(0, Method::GET, "/metrics", None);
        if let Some(token) = &self.metrics_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.context("GET /metrics")?;
        let status = response.status();
        if !status.is_success() {
            bail!(
                "GET /metrics: {status} (pass --metrics-token when QUESTPATH_METRICS_TOKEN is set)"
            );
        }
        response.text().await.context("GET /metrics: body")
    }

    /// `POST /api/v1/rooms` as the host: the new room's id and join code. A refusal
    /// names the server's reason (a `max_players` above `QUESTPATH_ROOM_MAX_PLAYERS`
    /// comes back as 422 on `max_players`).
    pub async fn create_room(
        &self,
        via: usize,
        token: &str,
        body: &Value,
    ) -> anyhow::Result<CreatedRoom> {
        self.setup(via, Method::POST, "/api/v1/rooms", Some(token), Some(body))
            .await
    }

    /// `POST /api/v1/rooms/{code}/guests`: a guest's websocket ticket. Not retried: the
    /// room scenario measures it as part of joining, and a refusal is a failure to report.
    pub async fn guest_ticket(&self, via: usize, code: &str, name: &str) -> anyhow::Result<String> {
        let response = self
            .request(
                via,
                Method::POST,
                &format!("/api/v1/rooms/{code}/guests"),
                None,
            )
            .json(&json!({ "name": name }))
            .send()
            .await
            .context("POST /api/v1/rooms/{code}/guests")?;
        let status = response.status();
        if !status.is_success() {
            bail!("POST /api/v1/rooms/{{code}}/guests: {status}");
        }
        let ticket: Ticket = response
            .json()
            .await
            .context("POST /api/v1/rooms/{code}/guests: body")?;
        Ok(ticket.ticket)
    }

    /// `GET /ready`: which backends the server uses and whether they answer.
    pub async fn ready(&self) -> anyhow::Result<Value> {
        let response = self
            .request(0, Method::GET, "/ready", None)
            .send()
            .await
            .context("GET /ready")?;
        let status = response.status();
        let body: Value = response.json().await.context("GET /ready: body")?;
        if !status.is_success() {
            bail!("the server is not ready: {body}");
        }
        Ok(body)
    }
}

/// `Retry-After` in seconds, or one second.
fn retry_after(response: &Response) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.max(1)))
        .unwrap_or(Duration::from_secs(1))
}

/// Picks the process figures out of Prometheus text exposition.
pub fn parse_metrics(text: &str) -> ServerSample {
    let value = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = rest.strip_prefix(' ')?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
    };
    ServerSample {
        rss_bytes: value("process_resident_memory_bytes"),
        cpu_seconds: value("process_cpu_seconds_total"),
        open_fds: value("process_open_fds"),
    }
}

/// A Prometheus histogram (all label sets of one name added up): cumulative bucket
/// counts by upper bound, the sum and the count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromHistogram {
    /// `(le, cumulative count)`, ascending, `+Inf` last.
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

impl PromHistogram {
    /// What was observed between two scrapes (`self` minus `before`).
    pub fn since(&self, before: &PromHistogram) -> PromHistogram {
        let buckets = self
            .buckets
            .iter()
            .map(|(le, n)| {
                let was = before
                    .buckets
                    .iter()
                    .find(|(b, _)| b == le)
                    .map_or(0.0, |(_, n)| *n);
                (*le, (n - was).max(0.0))
            })
            .collect();
        PromHistogram {
            buckets,
            sum: (self.sum - before.sum).max(0.0),
            count: (self.count - before.count).max(0.0),
        }
    }

    /// The q-quantile estimated like PromQL's `histogram_quantile`: linear within the
    /// bucket it falls in (the lowest bucket from 0; a quantile in `+Inf` gives the
    /// highest finite bound). `None` without observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count <= 0.0 || self.buckets.is_empty() {
            return None;
        }
        let rank = q * self.count;
        let mut lower = 0.0;
        let mut below = 0.0;
        for (le, n) in &self.buckets {
            if *n >= rank {
                if le.is_infinite() {
                    return Some(lower);
                }
                let inside = n - below;
                let frac = if inside > 0.0 {
                    (rank - below) / inside
                } else {
                    1.0
                };
                return Some(lower + (le - lower) * frac);
            }
            lower = *le;
            below = *n;
        }
        Some(lower)
    }
}

/// Reads the histogram `name` out of Prometheus text (every label set added up).
pub fn parse_histogram(text: &str, name: &str) -> PromHistogram {
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    let mut out = PromHistogram::default();
    let bucket_prefix = format!("{name}_bucket{{");
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        if let Some(labels) = series.strip_prefix(&bucket_prefix) {
            let Some(le) = labels
                .split(',')
                .find_map(|l| l.trim().strip_prefix("le=\""))
                .and_then(|l| l.split('"').next())
            else {
                continue;
            };
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                match le.parse::<f64>() {
                    Ok(v) => v,
                    Err(_) => continue,
                }
            };
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, n)) => *n += value,
                None => buckets.push((le, value)),
            }
        } else if series == format!("{name}_sum") || series.starts_with(&format!("{name}_sum{{")) {
            out.sum += value;
        } else if series == format!("{name}_count")
            || series.starts_with(&format!("{name}_count{{"))
        {
            out.count += value;
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.buckets = buckets;
    out
}

/// The values of a counter by one label (`name{label="x"} v`), added up per value.
pub fn parse_counter_by(text: &str, name: &str, label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let prefix = format!("{name}{{");
    let key = format!("{label}=\"");
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let Some(v) = labels
            .split(',')
            .find_map(|l| l.trim().strip_prefix(key.as_str()))
            .and_then(|l| l.split('"').next())
        else {
            continue;
        };
        *out.entry(v.to_string()).or_insert(0.0) += value;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_and_labelled_counters_are_read() {
        let before = "questpath_room_fanout_seconds_bucket{le=\"0.001\"} 1\n\
                      questpath_room_fanout_seconds_bucket{le=\"0.01\"} 1\n\
                      questpath_room_fanout_seconds_bucket{le=\"+Inf\"} 1\n\
                      questpath_room_fanout_seconds_sum 0.0005\n\
                      questpath_room_fanout_seconds_count 1\n";
        let after = "# TYPE questpath_room_fanout_seconds histogram\n\
                     questpath_room_fanout_seconds_bucket{le=\"0.001\"} 1\n\
                     questpath_room_fanout_seconds_bucket{le=\"0.01\"} 11\n\
                     questpath_room_fanout_seconds_bucket{le=\"+Inf\"} 11\n\
                     questpath_room_fanout_seconds_sum 0.0505\n\
                     questpath_room_fanout_seconds_count 11\n\
                     questpath_room_answers_total{outcome=\"accepted\"} 7\n\
                     questpath_room_answers_total{outcome=\"late_answer\"} 2\n";
        let h = parse_histogram(after, "questpath_room_fanout_seconds");
        assert_eq!(h.count, 11.0);
        assert_eq!(h.buckets.len(), 3);
        let d = h.since(&parse_histogram(before, "questpath_room_fanout_seconds"));
        assert_eq!(d.count, 10.0);
        assert!((d.sum - 0.05).abs() < 1e-9);
        // All ten in (0.001, 0.01]: the median is half-way.
        let p50 = d.quantile(0.5).unwrap();
        assert!((p50 - 0.0055).abs() < 1e-9, "{p50}");
        assert!(PromHistogram::default().quantile(0.5).is_none());
        let c = parse_counter_by(after, "questpath_room_answers_total", "outcome");
        assert_eq!(c.get("accepted"), Some(&7.0));
        assert_eq!(c.get("late_answer"), Some(&2.0));
    }

    #[test]
    fn process_figures_are_read_from_prometheus_text() {
        let text = "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                    # TYPE process_resident_memory_bytes gauge\n\
                    process_resident_memory_bytes 1.2345e8\n\
                    process_cpu_seconds_total 12.5\n\
                    process_open_fds 42\n\
                    process_resident_memory_bytes_other 1\n";
        let s = parse_metrics(text);
        assert_eq!(s.rss_bytes, Some(1.2345e8));
        assert_eq!(s.cpu_seconds, Some(12.5));
        assert_eq!(s.open_fds, Some(42.0));
        assert!(parse_metrics("").rss_bytes.is_none());
    }
}
