use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use crate::auth::ApiKey;
use crate::error::ApiError;
use crate::limits::show_quota;

/// What `/me` tells a caller about its own key.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me<'a> {
    /// The key's id.
    pub key_id: &'a str,
    /// Who holds it, if recorded.
    pub owner: Option<&'a str>,
    /// When it expires (RFC 3339), or null.
    pub expires_at: Option<String>,
    /// The key's rate limit and what is left of it.
    pub rate_limit: RateLimitView,
}

/// A key's rate limit, as `/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitView {
    /// Units per window.
    pub limit: u32,
    /// Most units at once.
    pub burst: u32,
    /// The window in seconds.
    pub window_seconds: u64,
    /// Units left now.
    pub remaining: u32,
    /// Seconds until the next unit returns (0 when full).
    pub reset_seconds: u64,
}

/// `GET /me`: the calling key's id, owner, expiry and quota, spending none of it.
#[utoipa::path(
    get,
    path = "/me",
    summary = "Describe the calling key",
    tag = "keys",
    description = "The calling key's id, owner, expiry and rate-limit state. Spends no unit.",
    responses((status = 200, description = "The calling key", body = Me), super::openapi::ProtectedErrors),
    security(("APIKeyHeader" = [])),
)]
pub async fn me(key: ApiKey, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let entry = key.entry();
    let state = show_quota(&req, entry).ok_or(ApiError::Internal)?;
    Ok(HttpResponse::Ok().json(Me {
        key_id: &entry.id,
        owner: entry.owner.as_deref(),
        expires_at: entry.expires_at.and_then(|t| t.format(&Rfc3339).ok()),
        rate_limit: RateLimitView {
            limit: state.policy.limit,
            burst: state.policy.burst,
            window_seconds: state.policy.window.as_secs(),
            remaining: state.remaining,
            reset_seconds: state.next_unit_secs(),
        },
    }))
}
