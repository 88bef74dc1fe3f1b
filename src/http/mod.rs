//! The HTTP face of the domain: the extractors handlers list (`ApiKey`, `Metered`, `JsonBody`),
//! validation into Pydantic-shaped errors, and the JSON types of requests and answers.

mod api_key;
mod credentials;
mod error_responses;
mod job_id;
mod json_body;
mod metered;
mod quota;
pub mod types;
pub mod validation;

pub use api_key::{client_address, ApiKey, AuthenticatedKey, AUTH_LOG};
pub use credentials::{presented_key, Presented, API_KEY_HEADER, CHALLENGES};
pub use error_responses::{ProtectedErrors, PublicErrors};
pub use job_id::JobId;
pub use json_body::JsonBody;
pub use metered::{show_quota, Metered, QuotaSlot};
pub use quota::{show_usage, usage_items};
