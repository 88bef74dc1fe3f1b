//! One integration-test binary: every module starts the real server and talks HTTP to it.

mod auth;
mod batch;
mod docs;
mod helpers;
mod keys;
mod limits;
mod logging;
mod model;
mod model_fast_path;
mod predict;
mod routes;
mod shutdown;
mod startup;
