use actix_web::HttpResponse;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;
use crate::http::types::{Me, RateLimitView};
use crate::http::ApiKey;

/// `GET /me`: the calling key's id, owner, expiry and quota, spending none of it.
#[utoipa::path(
    get,
    path = "/me",
    summary = "Describe the calling key",
    tag = "keys",
    description = "The calling key's id, owner, expiry, scopes and rate-limit state. Spends no unit.",
    responses((status = 200, description = "The calling key", body = Me), crate::http::ProtectedErrors),
    security(("APIKeyHeader" = [])),
)]
pub async fn me(key: ApiKey) -> Result<HttpResponse, ApiError> {
    let entry = key.entry();
    let state = key.quota();
    Ok(HttpResponse::Ok().json(Me {
        key_id: entry.id.as_str().into(),
        owner: entry.owner.as_deref().map(Into::into),
        expires_at: entry.expires_at.and_then(|t| t.format(&Rfc3339).ok()),
        scopes: entry
            .scopes()
            .into_iter()
            .map(|s| s.as_str().into())
            .collect(),
        rate_limit: RateLimitView {
            limit: state.policy.limit,
            burst: state.policy.burst,
            window_seconds: state.policy.window.as_secs(),
            remaining: state.remaining,
            reset_seconds: state.next_unit_secs(),
        },
    }))
}
