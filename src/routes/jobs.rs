use std::panic::AssertUnwindSafe;

use actix_web::http::header::{self, ContentType};
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use futures_util::FutureExt;

use crate::config::InputLimits;
use crate::error::ApiError;
use crate::http::types::{BatchRequest, ErrorDetail, JobView};
use crate::http::validation::{batch_input, BatchInput};
use crate::http::{ApiKey, Gate, JobId, JsonBody, Metered};
use crate::inference::{Inference, InferenceError};
use crate::jobs::{self, footprint, results_bytes, JobState};
use crate::log_context::{current_request_id, InRequest};
use crate::state::AppState;

/// `POST /analyze_batch`: starts a background job; 202 with its id and `Location`.
#[utoipa::path(
    post,
    path = "/analyze_batch",
    summary = "Start a background job",
    tag = "jobs",
    description = "Starts scoring the texts in the background; poll `Location` (`/jobs/{job_id}`) for the results. Costs n units for n texts.",
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Started", body = JobView,
            headers(("Location" = String, description = "`/jobs/{job_id}`"))),
        crate::http::ProtectedErrors,
    ),
    security(("APIKeyHeader" = [])),
)]
pub async fn analyze_batch(
    key: ApiKey,
    metered: Metered,
    inference: web::Data<Inference>,
    state: web::Data<AppState>,
    limits: web::Data<InputLimits>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let BatchInput { texts, model } = batch_input(body, &limits, inference.models())?;
    let jobs = &state.jobs;
    let job_id = jobs
        .create(key.id(), footprint(&texts))
        .await
        .inspect_err(|full| log::warn!("job refused for key id {}: {full}", key.id()))?;
    // Paid once the job has room: a job the server has no room for costs only its arrival unit.
    if let Err(refused) = metered.charge_total(texts.len()).await {
        jobs.abandon(&job_id).await;
        return Err(refused);
    }
    let count = texts.len();
    let store = Arc::clone(jobs);
    // The job's log lines belong to the request that made it: they carry its id.
    let request_id = current_request_id().unwrap_or_default();
    actix_rt::spawn(InRequest::new(
        request_id,
        Box::pin(async move {
            // A panic must still finish the job, or it would stay pending forever.
            let outcome = AssertUnwindSafe(inference.predict_all(model, texts))
                .catch_unwind()
                .await
                .unwrap_or(Err(InferenceError::Failed));
            let state = match outcome {
                Ok(results) => JobState::Done(results.into()),
                Err(e) => {
                    log::warn!("job {job_id} failed: {e}");
                    JobState::Failed(e.to_string())
                }
            };
            store.finish(&job_id, state).await;
        }),
    ));
    log::info!(
        "job {job_id} started for key id {} with {count} texts",
        key.id()
    );
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/jobs/{job_id}")))
        .json(JobView::new(job_id, &JobState::Processing)))
}

/// `GET /jobs/{job_id}`: the job's status and results; a job of another key is a 404, exactly
/// like a job that never existed (and like an id that is not a UUID at all).
#[utoipa::path(
    get,
    path = "/jobs/{job_id}",
    summary = "Get a job's status and results",
    tag = "jobs",
    description = "The job's status, and its results once done. Only the key that created the job can see it; any other key gets 404, as for a job that does not exist. Polling spends no unit of the rate limit.",
    params(("job_id" = String, Path, description = "The id answered by `/analyze_batch`")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job for this key", body = ErrorDetail),
        crate::http::ProtectedErrors,
    ),
    security(("APIKeyHeader" = [])),
)]
pub async fn get_job(
    key: ApiKey,
    state: web::Data<AppState>,
    JobId(job_id): JobId,
) -> Result<HttpResponse, ApiError> {
    // Polling reads the caller's own state: it spends no unit of the rate limit. The
    // authorization step spent a poll (the poll limit); it goes back unless the poll reads a
    // finished job's results (also when the request is dropped on the way), so a client waiting
    // for its job is never refused.
    let mut poll = PollRefund {
        gate: &state.gate,
        key: key.id(),
        spent: false,
    };
    let job_id = job_id.ok_or(ApiError::NotFound)?;
    let job = state
        .jobs
        .get(&job_id, key.id())
        .await
        .inspect_err(|e| log::warn!("job {job_id} not read for key id {}: {e}", key.id()))?
        .ok_or(ApiError::NotFound)?;
    let JobState::Done(results) = &job else {
        return Ok(HttpResponse::Ok().json(JobView::new(job_id, &job)));
    };
    poll.spent = true;
    let body = if results_bytes(results) <= jobs::SMALL_RESULTS_BYTES {
        // A few kilobytes: written here, without waiting behind other keys' large results.
        serde_json::to_vec(&JobView::new(job_id, &job))
    } else {
        // Up to a megabyte or more of JSON: written on the blocking pool, so that this worker
        // keeps serving other requests meanwhile, one at a time in this server, so that polls
        // from many keys cannot fill every core.
        let _turn = state
            .job_reads
            .acquire()
            .await
            .map_err(|_| ApiError::Internal)?;
        web::block(move || serde_json::to_vec(&JobView::new(job_id, &job)))
            .await
            .map_err(|e| {
                log::error!("job {job_id}: could not be written: {e}");
                ApiError::Internal
            })?
    }
    .map_err(|e| {
        log::error!("job {job_id}: could not be written as JSON: {e}");
        ApiError::Internal
    })?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

/// Gives back the poll the authorization step spent, when dropped, unless the poll read a
/// finished job's results (`spent`).
struct PollRefund<'a> {
    gate: &'a Gate,
    key: &'a str,
    spent: bool,
}

impl Drop for PollRefund<'_> {
    fn drop(&mut self) {
        if !self.spent {
            self.gate.refund_poll(self.key);
        }
    }
}
