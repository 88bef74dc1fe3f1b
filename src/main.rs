use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;
use sentiment_api::auth::KeySource;
use sentiment_api::cli::{self, Cli, Command};
use sentiment_api::config::{load_dotenv, Settings};
use sentiment_api::logging;
use sentiment_api::model::Models;
use sentiment_api::startup::{run, stop_on_signals, transport_warnings, Listener};
use sentiment_api::tls::CertificateStore;

fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::Keys(command)) => cli::keys(command),
        Some(Command::Config) => cli::config(),
        None | Some(Command::Serve) => actix_web::rt::System::new().block_on(serve()),
    }
}

async fn serve() -> ExitCode {
    if let Err(e) = load_dotenv() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    // The encoder's coalesced batches are large enough for candle's spinning "barrier pool", which
    // loses to inline element-wise operations on busy cores: 114 against 63 texts/s for 16
    // concurrent requests (docs/encoder.md). Set before any model loads; an explicit value wins.
    #[cfg(feature = "encoder")]
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    // Settings first: they validate RUST_LOG, which the logger would only warn about.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(settings.log_format);
    #[cfg(feature = "otel")]
    if let Some(otel) = settings.otel.clone() {
        let endpoint = otel.endpoint_for_log();
        match sentiment_api::telemetry::install(otel) {
            Ok(_) => log::info!("traces exported to {endpoint} (OTLP/HTTP JSON)"),
            Err(e) => {
                eprintln!("error: OTEL_EXPORTER_OTLP_ENDPOINT: cannot start the exporter: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // The keys next: the server never starts open, and a bad keys file stops it here.
    let (source, generated_key) = match KeySource::configured(
        settings.api_secret_key.as_ref(),
        settings.api_keys_file.clone(),
    ) {
        Ok(configured) => configured,
        Err(e) => {
            eprintln!("error: API_SECRET_KEY: not set, and no random key could be generated: {e}");
            return ExitCode::FAILURE;
        }
    };
    let keys = match source.into_keys() {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("error: API_KEYS_FILE: {e}");
            return ExitCode::FAILURE;
        }
    };
    let models = match Models::load(
        settings.models.as_deref(),
        &settings.default_model,
        settings.model_dir.as_deref(),
    ) {
        Ok(models) => models,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The certificate too: a bad file, a key not of that certificate or an expired certificate
    // stops the start with one line naming the variable.
    let certificates = match settings.tls.clone().map(CertificateStore::load).transpose() {
        Ok(certificates) => certificates,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let address = settings.address();
    let listener = match TcpListener::bind(&address) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: HOST/PORT: cannot listen on {address}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(key) = generated_key {
        // Shown once, on stdout rather than through the logger: the log never holds it (where
        // stdout is collected too, as under systemd, set API_SECRET_KEY instead).
        println!(
            "No API_SECRET_KEY or API_KEYS_FILE set: generated a key for this run only.\n\
             Send it as the X-API-Key header:\n\n    {}\n",
            key.expose()
        );
    }
    let bound = listener.local_addr();
    if let Ok(bound) = bound {
        for warning in transport_warnings(bound, &settings) {
            log::warn!("{warning}");
        }
    }
    let local = bound.map_or(address, |a| a.to_string());
    let (workers, key_count) = (settings.workers, keys.set.len());
    let model_names = models
        .iter()
        .map(|(m, default)| format!("{}{}", m.name(), if default { " (default)" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ");
    let scheme = if certificates.is_some() {
        "https"
    } else {
        "http"
    };
    let expiry = certificates.as_ref().map(|c| c.current().not_after_text());
    let listener = match certificates {
        Some(certificates) => Listener::https(listener, certificates),
        None => Listener::from(listener),
    };
    let shutdown_delay = settings.shutdown_delay;
    let running = match run(listener, settings, keys, models) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the server: {e}");
            return ExitCode::FAILURE;
        }
    };
    stop_on_signals(&running, shutdown_delay);
    log::info!(
        "sentiment-api listening on {scheme}://{local} with {workers} workers, {key_count} keys, models {model_names}{}",
        expiry.map_or_else(String::new, |at| format!(", TLS certificate valid until {at}"))
    );
    match running.server.await {
        Ok(()) => {
            log::info!("sentiment-api stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
