use actix_web::{web, HttpRequest, HttpResponse};
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;
use crate::http::types::{Me, QuotaView, RateLimitView, UsageView};
use crate::http::{show_usage, ApiKey};
use crate::quota::{Holder, Period, Usage};
use crate::state::AppState;

/// `GET /me`: the calling key's id, owner, expiry and quota, spending none of it.
#[utoipa::path(
    get,
    path = "/me",
    summary = "Describe the calling key",
    tag = "keys",
    description = "The calling key's id, owner, expiry, scopes and rate-limit state, and the day and month quotas of the key and its owner where they have any (`quota`). Spends no unit.",
    responses((status = 200, description = "The calling key", body = Me), crate::http::ProtectedErrors),
    security(("APIKeyHeader" = [])),
)]
pub async fn me(
    key: ApiKey,
    req: HttpRequest,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = key.entry();
    let state = key.quota();
    let quota = show_usage(&req, app.gate.quotas(), entry)
        .await?
        .map(|usage| quota_view(&usage));
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
        quota,
    }))
}

/// The counts of `usage`, by holder and period.
fn quota_view(usage: &Usage) -> QuotaView {
    let mut view = QuotaView::default();
    for count in &usage.counts {
        let periods = match count.limit.holder {
            Holder::Key(_) => view.key.get_or_insert_with(Default::default),
            Holder::Owner(_) => view.owner.get_or_insert_with(Default::default),
        };
        let slot = match count.limit.period {
            Period::Day => &mut periods.day,
            Period::Month => &mut periods.month,
        };
        *slot = Some(UsageView {
            limit: count.limit.limit,
            used: count.used,
            remaining: count.remaining(),
            reset_seconds: count.limit.period.secs_until_reset(usage.at),
        });
    }
    view
}
