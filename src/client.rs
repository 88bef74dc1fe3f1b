//! A typed Rust client of the HTTP API (cargo feature `client`), on reqwest with rustls (`ring`).
//!
//! Requests and answers are the server's own types ([`crate::http::types`]), so the client and the
//! server cannot drift apart; every refusal the contract defines is one variant of [`Error`].
//!
//! ```
//! # #[actix_rt::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = sentiment_api::testing::TestServer::start().await?;
//! # let (base_url, key) = (server.url(), server.key());
//! use sentiment_api::client::{Client, Error};
//! use sentiment_api::model::Sentiment;
//!
//! let client = Client::new(base_url, key)?;
//! let prediction = client.predict("I love it").await?;
//! assert_eq!(prediction.sentiment, Sentiment::Positive);
//!
//! let job = client.submit_job(["good", "bad"]).await?;
//! let results = job.wait().await?;
//! assert_eq!(results[1].sentiment, Sentiment::Negative);
//!
//! let stranger = Client::new(base_url, "not-a-key-of-this-server")?;
//! assert!(matches!(stranger.predict("hi").await, Err(Error::InvalidKey)));
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Secret;
use crate::error::ValidationItem;
use crate::http::types::{
    BatchResponse, ErrorDetail, Health, HttpValidationError, JobView, Me, ModelList, Prediction,
};

/// An answer for one text, owned (as the client reads it).
pub type OwnedPrediction = Prediction<'static>;

/// Every way a call can fail: the refusals the API defines, and the transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: no key was sent, or an empty one.
    #[error("no API key was sent (401 Not authenticated)")]
    MissingKey,
    /// 403: the key is unknown, expired or disabled (the server does not say which).
    #[error("the API key was refused (403 Invalid API key)")]
    InvalidKey,
    /// 403: a valid key, outside its scopes for this route.
    #[error("the API key may not use this route (403 Not enough permissions)")]
    NotEnoughPermissions,
    /// 429: the key's rate limit (or too many failed keys from this client); the limit and what
    /// remains come from the `RateLimit` headers, when the answer has them.
    #[error("rate limited: retry in {} s", retry_after.as_secs())]
    RateLimited {
        /// How long to wait (`Retry-After`).
        retry_after: Duration,
        /// Units per window (`RateLimit-Policy` `q`).
        limit: Option<u32>,
        /// Units left (`RateLimit` `r`).
        remaining: Option<u32>,
    },
    /// 503: overloaded, inference timed out, or too many jobs.
    #[error("the server is overloaded: retry in {} s", retry_after.as_secs())]
    Overloaded {
        /// How long to wait (`Retry-After`).
        retry_after: Duration,
    },
    /// 422: the input was refused; one item per problem (`type`, `loc`, `msg`, `input`).
    #[error("invalid input: {}", .0.iter().map(|i| i.msg.as_str()).collect::<Vec<_>>().join("; "))]
    Validation(Vec<ValidationItem>),
    /// 413: the request body is over the server's `MAX_BODY_BYTES`.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// 404: no such job for this key (or no such route).
    #[error("not found (404)")]
    NotFound,
    /// A background job ended as `failed`.
    #[error("the job failed: {0}")]
    JobFailed(String),
    /// 5xx other than 503: a bug on the server's side.
    #[error("server error {status}: {detail}")]
    Server {
        /// The status code.
        status: u16,
        /// The answer's `detail`.
        detail: String,
    },
    /// Any other status: one the contract says this client's requests cannot get.
    #[error("unexpected answer {status}: {detail}")]
    Unexpected {
        /// The status code.
        status: u16,
        /// The answer's `detail`, or its body.
        detail: String,
    },
    /// No answer, or one that is not the JSON the contract describes.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The client could not be built (its TLS set-up failed).
    #[error("cannot set up the client: {0}")]
    Setup(String),
}

/// Opt-in retries of 429 and 503 answers, waiting what their `Retry-After` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub max_retries: u32,
    /// The longest one wait may be: an answer asking for more is returned as the error at once.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    /// Three retries, none waiting over 10 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            max_wait: Duration::from_secs(10),
        }
    }
}

/// A client of one server with one key; cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Arc<str>,
    key: Secret,
    retry: Option<RetryPolicy>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("key", &self.key)
            .field("retry", &self.retry)
            .finish()
    }
}

/// A background job submitted with [`Client::submit_job`].
#[derive(Debug, Clone)]
pub struct Job {
    client: Client,
    id: Uuid,
}

#[derive(Serialize)]
struct PredictBody<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
}

#[derive(Serialize)]
struct BatchBody<'a> {
    texts: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
}

impl Client {
    /// A client of the server at `base_url` (such as `http://127.0.0.1:8000`), sending `key` as
    /// `X-API-Key`. HTTPS is verified against the platform's roots; for other roots (a test CA),
    /// use [`Client::with_http`].
    pub fn new(base_url: impl Into<String>, key: impl Into<String>) -> Result<Self, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                let verifier = rustls_platform_verifier::Verifier::new(provider)?;
                Ok(builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier)))
            });
        let mut tls = match tls {
            Ok(builder) => builder.with_no_client_auth(),
            Err(e) => return Err(Error::Setup(format!("TLS: {e}"))),
        };
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // No redirects: reqwest keeps custom headers such as `X-API-Key` on a redirect (it strips
        // only `Authorization` and cookies across hosts), so following one could hand the key to
        // another origin, or send it in clear after an HTTPS -> HTTP hop. A 3xx is an answer.
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self::with_http(http, base_url, key))
    }

    /// A client sending through `http`, a reqwest client set up by the caller (its own TLS
    /// roots, timeouts, proxy). Build it with `redirect(reqwest::redirect::Policy::none())`, as
    /// [`Client::new`] does: a client that follows redirects sends `X-API-Key` wherever it is
    /// sent.
    pub fn with_http(
        http: reqwest::Client,
        base_url: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        let base: String = base_url.into();
        Client {
            http,
            base: base.trim_end_matches('/').into(),
            key: Secret::new(key),
            retry: None,
        }
    }

    /// Retries 429 and 503 answers as `policy` says (off by default).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// `POST /predict`: scores `text` with the server's default model.
    pub async fn predict(&self, text: &str) -> Result<OwnedPrediction, Error> {
        self.predict_body(PredictBody { text, model: None }).await
    }

    /// `POST /predict` with the model called `model` (one of [`Client::models`]).
    pub async fn predict_with(&self, text: &str, model: &str) -> Result<OwnedPrediction, Error> {
        let body = PredictBody {
            text,
            model: Some(model),
        };
        self.predict_body(body).await
    }

    async fn predict_body(&self, body: PredictBody<'_>) -> Result<OwnedPrediction, Error> {
        let prediction: OwnedPrediction = self
            .send(|http, base| http.post(format!("{base}/predict")).json(&body))
            .await?;
        Ok(with_compound(prediction))
    }

    /// `POST /predict/batch`: scores every text, in order (each costs one unit of the limit).
    pub async fn predict_batch<I, S>(&self, texts: I) -> Result<Vec<OwnedPrediction>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let texts: Vec<String> = texts.into_iter().map(Into::into).collect();
        let body = BatchBody {
            texts: &texts,
            model: None,
        };
        let answer: BatchResponse<'static> = self
            .send(|http, base| http.post(format!("{base}/predict/batch")).json(&body))
            .await?;
        Ok(answer.results.into_iter().map(with_compound).collect())
    }

    /// `POST /analyze_batch`: starts a background job over `texts`; [`Job::wait`] for its results.
    pub async fn submit_job<I, S>(&self, texts: I) -> Result<Job, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let texts: Vec<String> = texts.into_iter().map(Into::into).collect();
        let body = BatchBody {
            texts: &texts,
            model: None,
        };
        let view: JobView<'static> = self
            .send(|http, base| http.post(format!("{base}/analyze_batch")).json(&body))
            .await?;
        Ok(self.job(view.job_id))
    }

    /// The job `id`, submitted earlier with this key (another key's job is [`Error::NotFound`]).
    pub fn job(&self, id: Uuid) -> Job {
        Job {
            client: self.clone(),
            id,
        }
    }

    /// `GET /me`: this key's id, expiry, scopes and rate-limit state (spends no unit).
    pub async fn me(&self) -> Result<Me<'static>, Error> {
        self.send(|http, base| http.get(format!("{base}/me"))).await
    }

    /// `GET /models`: the models the server has loaded (spends no unit).
    pub async fn models(&self) -> Result<ModelList, Error> {
        self.send(|http, base| http.get(format!("{base}/models")))
            .await
    }

    /// `GET /health`: whether the server answers (no key needed).
    pub async fn health(&self) -> Result<Health, Error> {
        self.send(|http, base| http.get(format!("{base}/health")))
            .await
    }

    /// Sends the request `build` makes (again for each retry), with the key, and reads the
    /// answer as `T` or as the [`Error`] its status means.
    async fn send<T, F>(&self, build: F) -> Result<T, Error>
    where
        T: DeserializeOwned,
        F: Fn(&reqwest::Client, &str) -> RequestBuilder,
    {
        let mut retries = 0;
        loop {
            let res = build(&self.http, &self.base)
                .header("X-API-Key", self.key.expose())
                .send()
                .await?;
            if res.status().is_success() {
                return Ok(res.json().await?);
            }
            let error = error_of(res).await;
            let wait = match &error {
                Error::RateLimited { retry_after, .. } | Error::Overloaded { retry_after } => {
                    *retry_after
                }
                _ => return Err(error),
            };
            match self.retry {
                Some(policy) if retries < policy.max_retries && wait <= policy.max_wait => {
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(error),
            }
        }
    }
}

impl Job {
    /// The job's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// `GET /jobs/{id}`: the job as it stands (`processing`, `done` or `failed`).
    pub async fn status(&self) -> Result<JobView<'static>, Error> {
        let id = self.id;
        let view: JobView<'static> = self
            .client
            .send(|http, base| http.get(format!("{base}/jobs/{id}")))
            .await?;
        Ok(JobView {
            results: view
                .results
                .map(|results| results.into_iter().map(with_compound).collect()),
            ..view
        })
    }

    /// Polls until the job is done, waiting 50 ms after the first look and twice as long after
    /// each (at most 2 s); its results, or [`Error::JobFailed`].
    pub async fn wait(&self) -> Result<Vec<OwnedPrediction>, Error> {
        let mut pause = Duration::from_millis(50);
        loop {
            let view = self.status().await?;
            match view.status.as_ref() {
                "done" => return Ok(view.results.unwrap_or_default()),
                "failed" => {
                    return Err(Error::JobFailed(
                        view.detail.map(Cow::into_owned).unwrap_or_default(),
                    ))
                }
                _ => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

/// The JSON carries the compound score once, as `score`; the scores get it back.
fn with_compound(mut prediction: OwnedPrediction) -> OwnedPrediction {
    prediction.scores.compound = prediction.score;
    prediction
}

/// The [`Error`] an answer that is not a success means.
async fn error_of(res: reqwest::Response) -> Error {
    let status = res.status();
    let headers = res.headers().clone();
    let body = match res.text().await {
        Ok(body) => body,
        Err(e) => return Error::Transport(e),
    };
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        if let Ok(items) = serde_json::from_str::<HttpValidationError>(&body) {
            return Error::Validation(items.detail);
        }
    }
    let detail = serde_json::from_str::<ErrorDetail>(&body)
        .map(|e| e.detail)
        .unwrap_or(body);
    let retry_after = || {
        let secs = header(&headers, RETRY_AFTER.as_str()).and_then(|v| v.trim().parse().ok());
        Duration::from_secs(secs.unwrap_or(1))
    };
    match status.as_u16() {
        401 => Error::MissingKey,
        403 if detail == "Not enough permissions" => Error::NotEnoughPermissions,
        403 => Error::InvalidKey,
        404 => Error::NotFound,
        413 => Error::TooLarge(detail),
        429 => Error::RateLimited {
            retry_after: retry_after(),
            limit: header(&headers, "ratelimit-policy").and_then(|v| parameter(v, "q")),
            remaining: header(&headers, "ratelimit").and_then(|v| parameter(v, "r")),
        },
        503 => Error::Overloaded {
            retry_after: retry_after(),
        },
        500..=599 => Error::Server {
            status: status.as_u16(),
            detail,
        },
        other => Error::Unexpected {
            status: other,
            detail,
        },
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The number after `name=` in a structured header such as `"default";r=4;t=12`.
fn parameter(value: &str, name: &str) -> Option<u32> {
    value.split(';').find_map(|part| {
        let (key, number) = part.trim().split_once('=')?;
        (key == name).then(|| number.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::parameter;

    #[test]
    fn rate_limit_header_parameters_are_read_by_name() {
        assert_eq!(parameter("\"default\";r=4;t=12", "r"), Some(4));
        assert_eq!(parameter("\"default\";q=60;w=60", "q"), Some(60));
        assert_eq!(parameter("\"default\";q=60;w=60", "r"), None);
        assert_eq!(parameter("\"default\";r=x", "r"), None);
    }
}
