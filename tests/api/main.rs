//! One integration-test binary: every module starts the real server and talks HTTP to it.

mod api_doc;
mod auth;
mod batch;
mod bearer;
mod client;
mod cors;
mod docs;
mod helpers;
mod keys;
mod limits;
mod logging;
mod models;
mod predict;
mod quotas;
mod replicas;
mod routes;
mod settings_docs;
mod shutdown;
mod startup;
mod testing;
mod tls;
