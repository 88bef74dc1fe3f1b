//! sentiment-api: a sentiment model served over HTTP behind API-key authentication.
//!
//! The modules are layers, each using only those listed before it (`docs/internals/architecture.md`):
//! route data, time and the reload loop; the model; the key store, the limits, the metrics and
//! the TLS certificates, which know nothing of HTTP; inference and jobs; configuration; the one
//! error type; the HTTP extractors and types; the middleware; the handlers; and the server's
//! assembly, and the one start that the binary and the test kit share.
#![forbid(unsafe_code)]

pub mod clock;
pub mod cors;
pub mod log_context;
pub mod paths;
pub mod reload;
// Traces (cargo feature `otel`): the request's span is current on its thread, as its id is.
#[cfg(feature = "otel")]
pub mod telemetry;

pub mod model;

pub mod auth;
pub mod limits;
pub mod metrics;
pub mod quota;
pub mod readiness;
pub mod redis_backend;
pub mod tls;

pub mod inference;
pub mod jobs;

pub mod config;
pub mod error;
pub mod http;

pub mod admin_socket;
pub mod logging;
pub mod middleware;
pub mod routes;
pub mod startup;
pub mod state;

pub mod application;

pub mod cli;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "testing")]
pub mod testing;
