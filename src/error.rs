//! `ApiError`: the one error type of the service, answered as FastAPI-shaped JSON. Every domain
//! error becomes one here (`From`), so status codes are decided in this file alone.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::KeyRefusal;
use crate::inference::InferenceError;
use crate::jobs::{JobsError, JobsFull};
use crate::metrics::Refusal;
use crate::redis_backend::Unavailable;

/// Every way a request can fail, each mapped to one status code and a `{"detail": ...}` body.
/// `Display` is the body's `detail` (and what the access log writes).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `X-API-Key` header, or an empty one.
    #[error("Not authenticated")]
    MissingKey,
    /// A key that is unknown, expired or disabled; the body never says which (the log does).
    #[error("Invalid API key")]
    InvalidKey(KeyRefusal),
    /// A valid key, outside the scopes the route needs (FastAPI's security-scopes wording).
    #[error("Not enough permissions")]
    NotEnoughPermissions,
    /// A CORS preflight from an origin `CORS_ALLOWED_ORIGINS` does not list.
    #[error("CORS origin not allowed")]
    OriginNotAllowed,
    /// `X-API-Key` sent more than once.
    #[error("Duplicate X-API-Key header")]
    DuplicateKey,
    /// `Authorization` sent more than once, with a `Bearer` key among them.
    #[error("Duplicate Authorization header")]
    DuplicateAuthorization,
    /// `X-API-Key` and `Authorization: Bearer` hold different keys.
    #[error("Conflicting API key headers")]
    ConflictingKeys,
    /// No such route or resource.
    #[error("Not Found")]
    NotFound,
    /// The path exists but not with this method; holds the `Allow` value.
    #[error("Method Not Allowed")]
    MethodNotAllowed(&'static str),
    /// The body is over `MAX_BODY_BYTES`.
    #[error("Request body too large: the limit is {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A JSON endpoint got a body of another media type.
    #[error("Unsupported media type: send the body as application/json")]
    UnsupportedMediaType,
    /// The body could not be read (bad framing, a client that broke off) or is not UTF-8.
    #[error("There was an error parsing the body")]
    MalformedBody,
    /// The body did not arrive within `BODY_TIMEOUT_SECONDS`.
    #[error("Request body not received in time")]
    BodyTimeout,
    /// The input failed validation: Pydantic v2 error items.
    #[error("Validation failed: {}", describe(.0))]
    Validation(Vec<ValidationItem>),
    /// The key's rate limit, or too many failed keys from one client.
    #[error("Rate limit exceeded")]
    RateLimited {
        /// Which limit.
        cause: Limit,
        /// Whole seconds until a retry can succeed.
        retry_after: u64,
    },
    /// The key's or its owner's quota for the day or the month is spent.
    #[error("Quota exceeded")]
    QuotaExceeded {
        /// Whole seconds until the period that ran out starts again.
        retry_after: u64,
    },
    /// Too many requests in flight or jobs pending, or inference took too long.
    #[error("{}", cause.detail())]
    Overloaded {
        /// Which capacity ran out.
        cause: Overload,
        /// Whole seconds to wait before retrying.
        retry_after: u64,
    },
    /// A bug; the details went to the log only.
    #[error("Internal Server Error")]
    Internal,
}

impl ApiError {
    /// A single validation error.
    pub fn invalid(item: ValidationItem) -> Self {
        ApiError::Validation(vec![item])
    }

    /// One error of every kind a client can receive (the limits at their defaults), so that each
    /// `detail` and status can be checked against `docs/api.md` (`tests/api/api_doc.rs`). A new
    /// variant does not compile in the unit test `every_kind_lists_every_variant` until listed here.
    pub fn every_kind() -> Vec<ApiError> {
        let mut all = vec![
            ApiError::MissingKey,
            ApiError::InvalidKey(KeyRefusal::Unknown),
            ApiError::NotEnoughPermissions,
            ApiError::OriginNotAllowed,
            ApiError::DuplicateKey,
            ApiError::DuplicateAuthorization,
            ApiError::ConflictingKeys,
            ApiError::NotFound,
            ApiError::MethodNotAllowed("POST"),
            ApiError::PayloadTooLarge {
                limit: crate::config::InputLimits::default().max_body_bytes,
            },
            ApiError::UnsupportedMediaType,
            ApiError::MalformedBody,
            ApiError::BodyTimeout,
            ApiError::Validation(Vec::new()),
            ApiError::QuotaExceeded { retry_after: 1 },
            ApiError::Internal,
        ];
        all.extend(
            [Limit::KeyQuota, Limit::AuthFailures, Limit::JobPolls].map(|cause| {
                ApiError::RateLimited {
                    cause,
                    retry_after: 1,
                }
            }),
        );
        all.extend(Overload::ALL.map(|cause| ApiError::Overloaded {
            cause,
            retry_after: 1,
        }));
        all
    }

    /// What the refusal counters count this error as, if it is a refusal.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            ApiError::MissingKey => Some(Refusal::Auth("missing")),
            ApiError::DuplicateKey | ApiError::DuplicateAuthorization => {
                Some(Refusal::Auth("duplicate"))
            }
            ApiError::ConflictingKeys => Some(Refusal::Auth("conflicting")),
            ApiError::QuotaExceeded { .. } => Some(Refusal::RateLimited("quota")),
            ApiError::InvalidKey(why) => Some(Refusal::Auth(why.label())),
            ApiError::RateLimited { cause, .. } => Some(Refusal::RateLimited(cause.label())),
            ApiError::Overloaded { cause, .. } => Some(Refusal::Overloaded(cause.label())),
            _ => None,
        }
    }
}

impl From<InferenceError> for ApiError {
    fn from(e: InferenceError) -> Self {
        match e {
            InferenceError::TimedOut => ApiError::Overloaded {
                cause: Overload::InferenceTimeout,
                retry_after: 1,
            },
            InferenceError::Failed => ApiError::Internal,
        }
    }
}

impl From<JobsFull> for ApiError {
    fn from(e: JobsFull) -> Self {
        ApiError::Overloaded {
            cause: match e {
                JobsFull::TooManyPending => Overload::PendingJobs,
                JobsFull::StoreFull => Overload::StoredJobs,
            },
            retry_after: 1,
        }
    }
}

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> Self {
        match e {
            JobsError::Full(full) => full.into(),
            JobsError::Unavailable(_) => ApiError::Overloaded {
                cause: Overload::JobBackend,
                retry_after: 1,
            },
        }
    }
}

impl From<Unavailable> for ApiError {
    fn from(_: Unavailable) -> Self {
        ApiError::Overloaded {
            cause: Overload::RateLimitBackend,
            retry_after: 1,
        }
    }
}

fn describe(items: &[ValidationItem]) -> String {
    items
        .iter()
        .map(|item| format!("{} at {}", item.kind, Value::from(item.loc.clone())))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Which limit a 429 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The key's own rate limit.
    KeyQuota,
    /// Too many failed keys from the client's address.
    AuthFailures,
    /// Too many polls of jobs by one key ([`POLL_POLICY`](crate::limits::POLL_POLICY)).
    JobPolls,
}

impl Limit {
    /// A short label: `key_quota`, `auth_failures`, `job_polls`.
    pub fn label(self) -> &'static str {
        match self {
            Limit::KeyQuota => "key_quota",
            Limit::AuthFailures => "auth_failures",
            Limit::JobPolls => "job_polls",
        }
    }
}

/// Which capacity a 503 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overload {
    /// `MAX_CONCURRENT_REQUESTS` in flight.
    InFlight,
    /// The model did not answer within `INFERENCE_TIMEOUT_MS`.
    InferenceTimeout,
    /// `MAX_PENDING_JOBS` queued or running.
    PendingJobs,
    /// `MAX_STORED_JOBS` kept.
    StoredJobs,
    /// Redis, where the limits are kept, cannot be asked (`REDIS_FAILURE_MODE=closed`).
    RateLimitBackend,
    /// Redis, where the jobs are kept, cannot be asked (whatever `REDIS_FAILURE_MODE`).
    JobBackend,
}

impl Overload {
    /// Every capacity, in the order the docs list them.
    pub const ALL: [Overload; 6] = [
        Overload::InFlight,
        Overload::InferenceTimeout,
        Overload::PendingJobs,
        Overload::StoredJobs,
        Overload::RateLimitBackend,
        Overload::JobBackend,
    ];

    /// A short label: `in_flight`, `inference_timeout`, `pending_jobs`, `stored_jobs`,
    /// `rate_limit_backend`, `job_backend`.
    pub fn label(self) -> &'static str {
        match self {
            Overload::InFlight => "in_flight",
            Overload::InferenceTimeout => "inference_timeout",
            Overload::PendingJobs => "pending_jobs",
            Overload::StoredJobs => "stored_jobs",
            Overload::RateLimitBackend => "rate_limit_backend",
            Overload::JobBackend => "job_backend",
        }
    }

    /// What the client is told.
    pub fn detail(self) -> &'static str {
        match self {
            Overload::InFlight => "Server overloaded",
            Overload::InferenceTimeout => "Inference timed out",
            Overload::PendingJobs => "Too many pending jobs",
            Overload::StoredJobs => "Too many stored jobs",
            Overload::RateLimitBackend => "Rate limit backend unavailable",
            Overload::JobBackend => "Job store unavailable",
        }
    }
}

/// One Pydantic v2 validation error item: `{"type","loc","msg","input"}` and, where Pydantic has it, `ctx`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ValidationError)]
pub struct ValidationItem {
    /// Machine-readable error type, such as `missing` or `string_too_long`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: Cow<'static, str>,
    /// Where the error is: `["body","text"]`, `["query","text"]`, `["body","texts",3]`.
    #[schema(value_type = Vec<LocItem>)]
    pub loc: Vec<Value>,
    /// Human-readable message, worded as Pydantic words it.
    pub msg: String,
    /// The offending input (any JSON value); boxed to keep the error small.
    pub input: Box<Value>,
    /// Extra context, such as the limit that was exceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub ctx: Option<Box<Value>>,
}

/// One step of a `loc`: a field name or a list index (for the schema only).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LocItem {
    /// A field name, such as `body` or `text`.
    Name(String),
    /// A list index.
    Index(u64),
}

impl ValidationItem {
    /// One item of every type this service answers 422 with (what `docs/api.md` is checked
    /// against); a new constructor belongs here too.
    pub fn every_type() -> Vec<ValidationItem> {
        let loc = || vec![Value::from("body"), Value::from("texts")];
        vec![
            Self::missing(loc(), Value::Null),
            Self::string_type(loc(), Value::Null),
            Self::string_too_long(loc(), Value::Null, 10),
            Self::json_invalid(0, "EOF while parsing".into()),
            Self::not_an_object(Value::Null),
            Self::list_type(loc(), Value::Null),
            Self::too_short(loc(), Value::Null, 1, 0),
            Self::too_long(loc(), Value::Null, 2, 3),
            Self::literal_error(loc(), Value::Null, &["vader", "tfidf"]),
            Self::value_error(loc(), Value::Null, "give the text once"),
        ]
    }

    /// A required field that is absent; `input` is what held it (the body, or null for a query).
    pub fn missing(loc: Vec<Value>, input: Value) -> Self {
        Self {
            kind: Cow::Borrowed("missing"),
            loc,
            msg: "Field required".into(),
            input: Box::new(input),
            ctx: None,
        }
    }

    /// A value that should have been a string.
    pub fn string_type(loc: Vec<Value>, input: Value) -> Self {
        Self {
            kind: Cow::Borrowed("string_type"),
            loc,
            msg: "Input should be a valid string".into(),
            input: Box::new(input),
            ctx: None,
        }
    }

    /// A string over `max` characters.
    pub fn string_too_long(loc: Vec<Value>, input: Value, max: usize) -> Self {
        Self {
            kind: Cow::Borrowed("string_too_long"),
            loc,
            msg: format!("String should have at most {max} characters"),
            input: Box::new(input),
            ctx: Some(Box::new(json!({ "max_length": max }))),
        }
    }

    /// A body that is not valid JSON; `position` is the byte offset of the error.
    pub fn json_invalid(position: usize, error: String) -> Self {
        Self {
            kind: Cow::Borrowed("json_invalid"),
            loc: vec!["body".into(), position.into()],
            msg: "JSON decode error".into(),
            input: Box::new(json!({})),
            ctx: Some(Box::new(json!({ "error": error }))),
        }
    }

    /// A JSON body that is not an object.
    pub fn not_an_object(input: Value) -> Self {
        Self {
            kind: Cow::Borrowed("model_attributes_type"),
            loc: vec!["body".into()],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: Box::new(input),
            ctx: None,
        }
    }

    /// A value that should have been a list.
    pub fn list_type(loc: Vec<Value>, input: Value) -> Self {
        Self {
            kind: Cow::Borrowed("list_type"),
            loc,
            msg: "Input should be a valid list".into(),
            input: Box::new(input),
            ctx: None,
        }
    }

    /// A list with fewer than `min` items.
    pub fn too_short(loc: Vec<Value>, input: Value, min: usize, actual: usize) -> Self {
        Self::list_length(
            loc,
            input,
            ("too_short", "least", "min_length"),
            min,
            actual,
        )
    }

    /// A list with more than `max` items.
    pub fn too_long(loc: Vec<Value>, input: Value, max: usize, actual: usize) -> Self {
        Self::list_length(loc, input, ("too_long", "most", "max_length"), max, actual)
    }

    /// A list whose length is past `bound`: `kind`, the word of the message (`least`, `most`) and
    /// the name of the bound in `ctx`, as Pydantic gives them.
    fn list_length(
        loc: Vec<Value>,
        input: Value,
        (kind, word, bound_name): (&'static str, &str, &str),
        bound: usize,
        actual: usize,
    ) -> Self {
        // In Pydantic's order: the bound before the actual length.
        let mut ctx = serde_json::Map::new();
        ctx.insert("field_type".into(), "List".into());
        ctx.insert(bound_name.into(), bound.into());
        ctx.insert("actual_length".into(), actual.into());
        Self {
            kind: Cow::Borrowed(kind),
            loc,
            msg: format!(
                "List should have at {word} {bound} item{} after validation, not {actual}",
                if bound == 1 { "" } else { "s" }
            ),
            input: Box::new(input),
            ctx: Some(Box::new(Value::Object(ctx))),
        }
    }

    /// A value that is not one of the `allowed` strings (Pydantic's `Literal`).
    pub fn literal_error(loc: Vec<Value>, input: Value, allowed: &[&str]) -> Self {
        let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        let expected = match quoted.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        };
        Self {
            kind: Cow::Borrowed("literal_error"),
            loc,
            msg: format!("Input should be {expected}"),
            input: Box::new(input),
            ctx: Some(Box::new(json!({ "expected": expected }))),
        }
    }

    /// A request that is invalid as a whole, such as one giving the same input twice.
    pub fn value_error(loc: Vec<Value>, input: Value, reason: &str) -> Self {
        Self {
            kind: Cow::Borrowed("value_error"),
            loc,
            msg: format!("Value error, {reason}"),
            input: Box::new(input),
            ctx: Some(Box::new(json!({ "error": reason }))),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MissingKey => StatusCode::UNAUTHORIZED,
            ApiError::InvalidKey(_)
            | ApiError::NotEnoughPermissions
            | ApiError::OriginNotAllowed => StatusCode::FORBIDDEN,
            ApiError::DuplicateKey
            | ApiError::DuplicateAuthorization
            | ApiError::ConflictingKeys
            | ApiError::MalformedBody => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } | ApiError::QuotaExceeded { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::MissingKey => {
                // Exactly one field, as the contract says: clients that join repeated fields
                // (Python `requests`: "APIKey, Bearer") compare it to `APIKey`. The Bearer scheme
                // is documented and declared in the OpenAPI document instead.
                res.insert_header((header::WWW_AUTHENTICATE, "APIKey"));
            }
            ApiError::MethodNotAllowed(allow) => {
                res.insert_header((header::ALLOW, *allow));
            }
            ApiError::RateLimited { retry_after, .. }
            | ApiError::QuotaExceeded { retry_after }
            | ApiError::Overloaded { retry_after, .. } => {
                res.insert_header((header::RETRY_AFTER, *retry_after));
            }
            _ => {}
        }
        match self {
            ApiError::Validation(items) => res.json(Detail { detail: items }),
            other => res.json(Detail {
                detail: other.to_string(),
            }),
        }
    }
}

/// FastAPI's error body. A struct rather than `json!` so that fields keep Pydantic's order.
#[derive(Serialize)]
struct Detail<T: Serialize> {
    detail: T,
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[test]
    fn every_refusal_is_counted_under_a_label_made_at_the_start() {
        use crate::auth::KeyRefusal;
        use crate::metrics::{AUTH_FAILURE_REASONS, OVERLOAD_CAUSES, RATE_LIMITS};
        let keys = [
            KeyRefusal::Unknown,
            KeyRefusal::Expired,
            KeyRefusal::Disabled,
        ];
        let mut seen = 0;
        for error in ApiError::every_kind()
            .into_iter()
            .chain(keys.map(ApiError::InvalidKey))
        {
            let (values, value): (&[&str], _) = match error.refusal() {
                Some(Refusal::Auth(reason)) => (&AUTH_FAILURE_REASONS, reason),
                Some(Refusal::RateLimited(limit)) => (&RATE_LIMITS, limit),
                Some(Refusal::Overloaded(cause)) => (&OVERLOAD_CAUSES, cause),
                None => continue,
            };
            assert!(
                values.contains(&value),
                "{value} ({error:?}) is not made at the start"
            );
            seen += 1;
        }
        assert!(seen >= 15, "every refusal kind is checked ({seen})");
    }

    #[test]
    fn every_kind_lists_every_variant() {
        // Exhaustive on purpose: a new variant stops this compiling until `every_kind` has it.
        let index = |e: &ApiError| match e {
            ApiError::MissingKey => 0,
            ApiError::InvalidKey(_) => 1,
            ApiError::NotEnoughPermissions => 2,
            ApiError::OriginNotAllowed => 3,
            ApiError::DuplicateKey => 4,
            ApiError::NotFound => 5,
            ApiError::MethodNotAllowed(_) => 6,
            ApiError::PayloadTooLarge { .. } => 7,
            ApiError::UnsupportedMediaType => 8,
            ApiError::MalformedBody => 9,
            ApiError::BodyTimeout => 10,
            ApiError::Validation(_) => 11,
            ApiError::RateLimited { .. } => 12,
            ApiError::Overloaded { .. } => 13,
            ApiError::Internal => 14,
            ApiError::DuplicateAuthorization => 15,
            ApiError::ConflictingKeys => 16,
            ApiError::QuotaExceeded { .. } => 17,
        };
        let mut seen: Vec<usize> = ApiError::every_kind().iter().map(index).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, (0..18).collect::<Vec<_>>());
        let slot = |o: Overload| match o {
            Overload::InFlight => 0,
            Overload::InferenceTimeout => 1,
            Overload::PendingJobs => 2,
            Overload::StoredJobs => 3,
            Overload::RateLimitBackend => 4,
            Overload::JobBackend => 5,
        };
        let mut slots = Overload::ALL.map(slot).to_vec();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(
            slots,
            (0..6).collect::<Vec<_>>(),
            "Overload::ALL lists every capacity"
        );
    }

    async fn body_of(err: ApiError) -> Value {
        serde_json::from_str(&raw_body_of(err).await).unwrap()
    }

    async fn raw_body_of(err: ApiError) -> String {
        let bytes = to_bytes(err.error_response().into_body()).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[actix_rt::test]
    async fn validation_items_serialize_in_pydantic_shape() {
        let item = ValidationItem::missing(vec!["query".into(), "text".into()], Value::Null);
        let body = raw_body_of(ApiError::Validation(vec![item])).await;
        // Byte for byte, in Pydantic's field order.
        assert_eq!(
            body,
            r#"{"detail":[{"type":"missing","loc":["query","text"],"msg":"Field required","input":null}]}"#
        );
    }

    #[test]
    fn literal_errors_name_the_allowed_values_as_pydantic_does() {
        let loc = || vec![Value::from("body"), Value::from("model")];
        let one = ValidationItem::literal_error(loc(), json!("x"), &["vader"]);
        assert_eq!(one.msg, "Input should be 'vader'");
        let two = ValidationItem::literal_error(loc(), json!("x"), &["vader", "tfidf"]);
        assert_eq!(two.msg, "Input should be 'vader' or 'tfidf'");
        let three = ValidationItem::literal_error(loc(), json!(5), &["a", "b", "c"]);
        assert_eq!(three.msg, "Input should be 'a', 'b' or 'c'");
        assert_eq!(
            serde_json::to_value(&three).unwrap(),
            json!({"type": "literal_error", "loc": ["body", "model"],
                   "msg": "Input should be 'a', 'b' or 'c'", "input": 5,
                   "ctx": {"expected": "'a', 'b' or 'c'"}})
        );
    }

    #[actix_rt::test]
    async fn fastapi_detail_strings_are_byte_identical() {
        assert_eq!(
            body_of(ApiError::MissingKey).await,
            json!({"detail":"Not authenticated"})
        );
        assert_eq!(
            body_of(ApiError::InvalidKey(KeyRefusal::Expired)).await,
            json!({"detail":"Invalid API key"})
        );
        assert_eq!(
            body_of(ApiError::NotFound).await,
            json!({"detail":"Not Found"})
        );
    }
}
