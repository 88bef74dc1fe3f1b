use actix_web::HttpResponse;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use crate::auth::ApiKey;

/// What `/me` tells a caller about its own key.
#[derive(Debug, Serialize)]
pub struct Me<'a> {
    /// The key's id.
    pub key_id: &'a str,
    /// Who holds it, if recorded.
    pub owner: Option<&'a str>,
    /// When it expires (RFC 3339), or null.
    pub expires_at: Option<String>,
}

/// `GET /me`: the calling key's id, owner and expiry (never anything about other keys).
pub async fn me(key: ApiKey) -> HttpResponse {
    let entry = key.entry();
    HttpResponse::Ok().json(Me {
        key_id: &entry.id,
        owner: entry.owner.as_deref(),
        expires_at: entry.expires_at.and_then(|t| t.format(&Rfc3339).ok()),
    })
}
