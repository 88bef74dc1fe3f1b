//! sentiment-api: a sentiment model served over HTTP behind API-key authentication.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod inference;
pub mod jobs;
pub mod json_body;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod model;
pub mod routes;
pub mod startup;
pub mod validation;
