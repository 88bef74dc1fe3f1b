//! The process's logger: `RUST_LOG` filters it; `LOG_FORMAT` picks lines of text (the default) or
//! one JSON object a line for machines. Every line written while a request is served carries the
//! request's id.

use std::io::Write;

use env_logger::fmt::Formatter;
use log::kv::{self, VisitSource};
use log::Record;
use serde_json::{Map, Value};

use crate::log_context::with_request_id;

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `[time LEVEL target] message`, then ` request_id=...` within a request.
    #[default]
    Text,
    /// One JSON object a line: `time`, `level`, `target`, `message`, `request_id` within a request,
    /// and the access log's fields (`method`, `route`, `status`, `latency_ms`, `key_id`, ...).
    Json,
}

/// Installs the logger; `RUST_LOG` (default `info`) filters what it writes.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        LogFormat::Text => builder.format(text_line),
        LogFormat::Json => builder.format(json_line),
    };
    builder.init();
}

fn text_line(out: &mut Formatter, record: &Record<'_>) -> std::io::Result<()> {
    write!(
        out,
        "[{} {:<5} {}] {}",
        out.timestamp(),
        record.level(),
        record.target(),
        record.args()
    )?;
    with_request_id(|id| match id {
        Some(id) => writeln!(out, " request_id={id}"),
        None => writeln!(out),
    })
}

fn json_line(out: &mut Formatter, record: &Record<'_>) -> std::io::Result<()> {
    let mut line = Map::new();
    line.insert("time".into(), out.timestamp().to_string().into());
    line.insert("level".into(), record.level().as_str().into());
    line.insert("target".into(), record.target().into());
    line.insert("message".into(), record.args().to_string().into());
    with_request_id(|id| {
        if let Some(id) = id {
            line.insert("request_id".into(), id.into());
        }
    });
    let _ = record.key_values().visit(&mut Fields(&mut line));
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)
}

/// Copies a record's key-values into the JSON line, numbers as numbers.
struct Fields<'a>(&'a mut Map<String, Value>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let value = if let Some(n) = value.to_u64() {
            Value::from(n)
        } else if let Some(x) = value.to_f64() {
            Value::from(x)
        } else {
            Value::from(value.to_string())
        };
        self.0.insert(key.as_str().to_owned(), value);
        Ok(())
    }
}
