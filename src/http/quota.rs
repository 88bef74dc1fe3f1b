//! Quotas on the request path: spending a request's units under its key's and owner's quotas
//! (after the rate limit granted them), and the usage left for the `RateLimit` headers and `/me`.
//! A key with no quota (and no owner's quota) never gets here.

use actix_web::{web, HttpMessage, HttpRequest};

use super::quota_slot::QuotaSlot;
use crate::auth::KeyEntry;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::quota::{Count, Holder, Quotas, Receipt, Usage};

/// Spends `units` of every quota `key` is held to, with the receipt of where they were taken
/// from, or answers 429 `Quota exceeded` spending none (units the rate limit granted stay spent,
/// as for any refused request).
pub(super) async fn spend(
    req: &HttpRequest,
    quotas: &Quotas,
    key: &KeyEntry,
    units: u32,
) -> Result<Option<Receipt>, ApiError> {
    let usage = usage(quotas, key, units).await?;
    let receipt = usage.receipt(u64::from(units));
    decide(req, key, usage, units)?;
    Ok(receipt)
}

/// Leaves `key`'s quotas as they stand, spending nothing, for the headers of an answer that
/// spends no unit of them (a free route, a refusal), so that every answer to the key shows the
/// same policies. A store that cannot be asked leaves none: the answer does not depend on them.
pub(super) async fn peek(req: &HttpRequest, quotas: &Quotas, key: &KeyEntry) {
    match quotas.spend(&key.quota_limits(), 0).await {
        Ok(usage) => leave_usage(req, usage),
        Err(e) => log::debug!("{e}: the answer's RateLimit headers leave the quotas out"),
    }
}

/// Answers 429 `Quota exceeded`, spending nothing, when `units` more do not fit under `key`'s
/// quotas as they stand. A batch asks this before its rest is settled with the rate limit, which
/// has no refund: a batch its quota refuses must not spend the rate-limit units of its every
/// text. (Another request may still take the last units between this and [`spend`]: the rare
/// loser keeps the rate-limit units it was granted.)
pub(super) async fn check(
    req: &HttpRequest,
    quotas: &Quotas,
    key: &KeyEntry,
    units: u32,
) -> Result<(), ApiError> {
    let mut usage = usage(quotas, key, 0).await?;
    usage.granted = usage
        .counts
        .iter()
        .all(|c| c.used.saturating_add(u64::from(units)) <= c.limit.limit);
    if usage.granted {
        return Ok(());
    }
    decide(req, key, usage, units)
}

/// The answer to `units` under `usage` (granted or not), left for the headers and logged.
fn decide(req: &HttpRequest, key: &KeyEntry, usage: Usage, units: u32) -> Result<(), ApiError> {
    let refused = usage.retry_after_secs(u64::from(units));
    leave_usage(req, usage.clone());
    let Some(retry_after) = refused else {
        count_owner_units(req, &usage, units);
        return Ok(());
    };
    for count in usage
        .counts
        .iter()
        .filter(|c| c.used + u64::from(units) > c.limit.limit)
    {
        log::warn!(
            "quota exceeded: key id {} asked for {units} units; {} {} has used {} of {} this {}",
            key.id,
            count.limit.holder.kind(),
            count.limit.holder.name(),
            count.used,
            count.limit.limit,
            count.limit.period.as_str()
        );
    }
    Err(ApiError::QuotaExceeded { retry_after })
}

/// Gives back the arrival unit of a batch that was refused after it (over its quota or its rate
/// limit): a refused request spends none of a quota. The unit goes back to the counters its
/// `receipt` names, in the store and period it was spent in (a batch refused after midnight
/// gives nothing to the new day). A store that cannot be asked keeps it.
pub(super) async fn refund_arrival(
    req: &HttpRequest,
    quotas: &Quotas,
    key: &KeyEntry,
    receipt: &Receipt,
) {
    if let Err(e) = quotas.refund(receipt).await {
        log::debug!("{e}: the arrival unit of key id {} stays spent", key.id);
        return;
    }
    // The `RateLimit` headers of the refusal show the unit given back, where they show its counter.
    if let Some(slot) = req.extensions().get::<QuotaSlot>() {
        if let Some(mut usage) = slot.usage() {
            usage.refunded(receipt);
            slot.set_usage(usage);
        }
    }
}

/// `key`'s quotas as they stand, spending nothing, for `/me` (and left for the headers); `None`
/// for a key with none.
pub async fn show_usage(
    req: &HttpRequest,
    quotas: &Quotas,
    key: &KeyEntry,
) -> Result<Option<Usage>, ApiError> {
    if !key.has_quota() {
        return Ok(None);
    }
    // The authorization step looked already, for the headers.
    if let Some(usage) = req
        .extensions()
        .get::<QuotaSlot>()
        .and_then(QuotaSlot::usage)
    {
        return Ok(Some(usage));
    }
    let usage = usage(quotas, key, 0).await?;
    leave_usage(req, usage.clone());
    Ok(Some(usage))
}

/// Counts granted units in `quota_owner_units_total`, when `QUOTA_OWNER_METRICS` turned it on.
fn count_owner_units(req: &HttpRequest, usage: &Usage, units: u32) {
    let Some(owners) = req
        .app_data::<web::Data<Metrics>>()
        .and_then(|m| m.owner_usage())
    else {
        return;
    };
    // One owner's day and month are two counts of the same units.
    let owner = usage.counts.iter().find_map(|c| match &c.limit.holder {
        Holder::Owner(name) => Some(name),
        Holder::Key(_) => None,
    });
    if let Some(owner) = owner {
        owners.spent(owner, u64::from(units));
    }
}

async fn usage(quotas: &Quotas, key: &KeyEntry, units: u32) -> Result<Usage, ApiError> {
    let limits = key.quota_limits();
    quotas
        .spend(&limits, u64::from(units))
        .await
        .inspect_err(|e| log::debug!("{e}: refusing (REDIS_FAILURE_MODE=closed)"))
        .map_err(ApiError::from)
}

fn leave_usage(req: &HttpRequest, usage: Usage) {
    if let Some(slot) = req.extensions().get::<QuotaSlot>() {
        slot.set_usage(usage);
    }
}

/// The policy name of a count in the `RateLimit` headers: `day`, `month` for the key's own,
/// `owner-day`, `owner-month` for its owner's.
pub fn policy_name(count: &Count) -> String {
    match count.limit.holder {
        Holder::Key(_) => count.limit.period.as_str().to_owned(),
        Holder::Owner(_) => format!("owner-{}", count.limit.period.as_str()),
    }
}

/// The items `usage` adds to `RateLimit-Policy` and `RateLimit` (IETF draft structured-field
/// lists), each starting with `, `: `"day";q=1000;w=86400` and `"day";r=997;t=3600`, where `w`
/// is the period's length (a month's varies) and `t` the seconds until it ends.
pub fn usage_items(usage: &Usage) -> (String, String) {
    let (mut policies, mut current) = (String::new(), String::new());
    for count in &usage.counts {
        let name = policy_name(count);
        let period = count.limit.period;
        policies.push_str(&format!(
            ", \"{name}\";q={};w={}",
            count.limit.limit,
            period.length_secs(usage.at)
        ));
        current.push_str(&format!(
            ", \"{name}\";r={};t={}",
            count.remaining(),
            period.secs_until_reset(usage.at)
        ));
    }
    (policies, current)
}
