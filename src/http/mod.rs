//! The HTTP face of the domain: the extractors handlers list (`ApiKey`, `Metered`, `JsonBody`),
//! validation into Pydantic-shaped errors, and the JSON types of requests and answers.

mod api_key;
mod authorize;
mod credentials;
mod error_responses;
mod job_id;
mod json_body;
mod metered;
mod quota;
mod quota_slot;
pub mod types;
pub mod validation;

pub use api_key::{ApiKey, API_KEY_HEADER};
pub use authorize::{AuthenticatedKey, Authorize, Gate, AUTH_LOG};
pub use credentials::{every_presented_key, presented_key, Presented};
pub use error_responses::{ProtectedErrors, PublicErrors};
pub use job_id::JobId;
pub use json_body::JsonBody;
pub use metered::Metered;
pub use quota::{show_usage, usage_items};
pub use quota_slot::QuotaSlot;
