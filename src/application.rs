//! `Application::build`: the one start, shared by the binary and the test kit. It loads the keys,
//! the models and the TLS certificate, binds the listener and starts [`startup::run`]; any failure
//! is one [`StartError`] line naming what to fix.

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::ServerHandle;

use crate::auth::{KeySource, Keys, Secret};
use crate::config::Settings;
use crate::model::Models;
use crate::startup::{run, transport_warnings, Listener, Running};
use crate::tls::CertificateStore;

/// Why a start failed: one line (the binary prints it after `error: `), and the kind of I/O error
/// the test kit reports it as.
#[derive(Debug)]
pub struct StartError {
    line: String,
    kind: std::io::ErrorKind,
}

impl StartError {
    fn invalid(line: String) -> Self {
        StartError {
            line,
            kind: std::io::ErrorKind::InvalidInput,
        }
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

impl std::error::Error for StartError {}

impl From<StartError> for std::io::Error {
    fn from(e: StartError) -> Self {
        std::io::Error::new(e.kind, e.line)
    }
}

/// What a start may be given instead of reading it from the settings (the test kit's keys and
/// models).
#[derive(Default)]
pub struct Parts {
    /// The keys to serve; `None`: `API_SECRET_KEY` and `API_KEYS_FILE`, or a generated key.
    pub keys: Option<Keys>,
    /// The models to serve; `None`: `MODELS`, `DEFAULT_MODEL` and `MODEL_DIR`.
    pub models: Option<Models>,
}

/// A server that is running, and what its start printed or should print.
pub struct Application {
    running: Running,
    url: String,
    generated_key: Option<Secret>,
    summary: String,
}

impl Application {
    /// Starts the server the settings describe. Must be called within an actix system.
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        Self::build_with(settings, Parts::default())
    }

    /// Starts the server the settings describe, with the keys and models of `parts` where given.
    pub fn build_with(settings: Settings, parts: Parts) -> Result<Application, StartError> {
        // The keys first: the server never starts open, and a bad keys file stops it here.
        let (keys, generated_key) = match parts.keys {
            Some(keys) => (keys, None),
            None => {
                let (source, generated) = KeySource::configured(
                    settings.keys.secret_key.as_ref(),
                    settings.keys.file.clone(),
                )
                .map_err(|e| {
                    StartError::invalid(format!(
                        "API_SECRET_KEY: not set, and no random key could be generated: {e}"
                    ))
                })?;
                let keys = source
                    .into_keys()
                    .map_err(|e| StartError::invalid(format!("API_KEYS_FILE: {e}")))?;
                (keys, generated)
            }
        };
        let models = match parts.models {
            Some(models) => models,
            None => Models::load(
                settings.models.names.as_deref(),
                &settings.models.default,
                settings.models.dir.as_deref(),
            )
            .map_err(|e| StartError::invalid(e.to_string()))?,
        };
        // The certificate too: a bad file, a key not of that certificate or an expired
        // certificate stops the start with one line naming the variable.
        let certificates = settings
            .tls
            .files
            .clone()
            .map(CertificateStore::load)
            .transpose()
            .map_err(|e| StartError::invalid(e.to_string()))?;
        let address = settings.listen.address();
        let tcp = TcpListener::bind(&address).map_err(|e| StartError {
            line: format!("HOST/PORT: cannot listen on {address}: {e}"),
            kind: e.kind(),
        })?;
        let bound = tcp.local_addr().ok();
        for warning in bound
            .map(|bound| transport_warnings(bound, &settings))
            .unwrap_or_default()
        {
            log::warn!("{warning}");
        }
        let local = bound.map_or(address, |a: SocketAddr| a.to_string());
        let scheme = if certificates.is_some() {
            "https"
        } else {
            "http"
        };
        let model_names = models
            .iter()
            .map(|(m, default)| format!("{}{}", m.name(), if default { " (default)" } else { "" }))
            .collect::<Vec<_>>()
            .join(", ");
        let expiry = certificates.as_ref().map(|c| c.current().not_after_text());
        let summary = format!(
            "sentiment-api listening on {scheme}://{local} with {} workers, {} keys, models {model_names}{}",
            settings.listen.workers,
            keys.set.len(),
            expiry.map_or_else(String::new, |at| format!(", TLS certificate valid until {at}"))
        );
        let listener = match certificates {
            Some(certificates) => Listener::https(tcp, certificates),
            None => Listener::from(tcp),
        };
        let running = run(listener, settings, keys, models).map_err(|e| StartError {
            line: format!("cannot start the server: {e}"),
            kind: e.kind(),
        })?;
        Ok(Application {
            running,
            url: format!("{scheme}://{local}"),
            generated_key,
            summary,
        })
    }

    /// The base URL, such as `http://127.0.0.1:8000`, with no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key generated for this run when none was configured: shown once, never logged.
    pub fn generated_key(&self) -> Option<&Secret> {
        self.generated_key.as_ref()
    }

    /// The line the binary logs once serving: address, workers, keys, models, certificate expiry.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The running server (for `startup::stop_on_signals`).
    pub fn running(&self) -> &Running {
        &self.running
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.running.server.handle()
    }

    /// Serves until the server stops.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.running.server.await
    }
}
