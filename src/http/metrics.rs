//! `GET /metrics`: Prometheus text format. Protected by a bearer token when
//! `QUESTPATH_METRICS_TOKEN` is set, so it need not be public. Gauges whose value lives
//! in a backend (job queue depth) are sampled at scrape time. The token rule and the
//! sampling are `metrics::exporter`'s, shared with `questpath worker`'s listener.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::metrics::exporter;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !exporter::authorized(&req, state.settings.metrics_token.as_ref()) {
        return exporter::unauthorized();
    }
    exporter::sample_gauges(&state.metrics, state.backends.job_queue.as_ref()).await;
    exporter::exposition(&state.metrics)
}
