//! The `JobId` extractor: the `{job_id}` of a path, as a UUID.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use uuid::Uuid;

use crate::error::ApiError;

/// The job id in the path, parsed, so a malformed id never reaches the store: `None` when it is
/// not a UUID, which names no job (the handler answers the 404 of a job that does not exist, after
/// the authentication and quota headers every authenticated answer carries).
///
/// Not `web::Path<Uuid>`: actix logs the whole request path at `debug` when that extractor fails,
/// and a client that sends its key in the path by mistake would find it in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobId(pub Option<Uuid>);

impl FromRequest for JobId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .match_info()
            .get("job_id")
            .and_then(|raw| Uuid::try_parse(raw).ok());
        ready(Ok(JobId(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    async fn extract(id: &str) -> JobId {
        let (req, mut payload) = TestRequest::default()
            .param("job_id", id.to_owned())
            .to_http_parts();
        JobId::from_request(&req, &mut payload).await.unwrap()
    }

    #[actix_rt::test]
    async fn a_uuid_is_a_job_id_and_anything_else_is_none() {
        let id = Uuid::new_v4();
        assert_eq!(extract(&id.to_string()).await, JobId(Some(id)));
        for bad in ["", "42", "not-a-uuid", "sk_a-key-pasted-here-0123456789"] {
            assert_eq!(extract(bad).await, JobId(None), "{bad}");
        }
    }
}
