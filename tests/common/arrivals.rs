//! The random policies and traffic the limiter's properties and its conformance test share.

use std::time::Duration;

use proptest::prelude::*;
use sentiment_api::limits::Policy;

pub fn policy() -> impl Strategy<Value = Policy> {
    (1u32..=120, 1u64..=120).prop_flat_map(|(limit, window)| {
        (1..=limit).prop_map(move |burst| Policy {
            limit,
            burst,
            window: Duration::from_secs(window),
        })
    })
}

/// Arrivals: how long after the previous one (ms), and how many units (batches larger than any
/// burst included).
pub fn arrivals() -> impl Strategy<Value = Vec<(u64, u32)>> {
    prop::collection::vec((0u64..=5_000, 1u32..=150), 1..60)
}
