use std::process::ExitCode;

use sentiment_api::application::Application;
use sentiment_api::cli::{self, Command};
use sentiment_api::config::{load_dotenv, Settings};
use sentiment_api::logging;
use sentiment_api::startup::stop_on_signals;

fn main() -> ExitCode {
    match cli::parse().command {
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
    // loses to inline element-wise operations on busy cores (docs/internals/performance-history.md,
    // "minilm"). Set before any model loads; an explicit value wins.
    #[cfg(feature = "encoder")]
    {
        use sentiment_api::config::CANDLE_NUM_THREADS;
        if std::env::var_os(CANDLE_NUM_THREADS.name).is_none() {
            std::env::set_var(CANDLE_NUM_THREADS.name, "1");
        }
    }
    // Settings first: they validate RUST_LOG, which the logger would only warn about.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(settings.logging.format);
    #[cfg(feature = "otel")]
    if let Some(otel) = settings.otel.clone() {
        let endpoint = otel.endpoint_for_log();
        match sentiment_api::telemetry::install(otel) {
            Ok(_) => log::info!("traces exported to {endpoint} (OTLP/HTTP JSON)"),
            Err(e) => {
                eprintln!("error: OTEL_EXPORTER_OTLP_ENDPOINT: cannot export traces: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let shutdown_delay = settings.shutdown.delay;
    let app = match Application::build(settings) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(key) = app.generated_key() {
        // Shown once, on stdout rather than through the logger: the log never holds it (where
        // stdout is collected too, as under systemd, set API_SECRET_KEY instead).
        println!(
            "No API_SECRET_KEY or API_KEYS_FILE set: generated a key for this run only.\n\
             Send it as the X-API-Key header:\n\n    {}\n",
            key.expose()
        );
    }
    stop_on_signals(app.running(), shutdown_delay);
    log::info!("{}", app.summary());
    let stopped = app.run_until_stopped().await;
    // Spans wait for a batch (OTEL_BSP_SCHEDULE_DELAY): send those of the last requests now, within
    // the margin systemd's TimeoutStopSec and Kubernetes' grace period leave after the drain.
    #[cfg(feature = "otel")]
    if !sentiment_api::telemetry::flush(sentiment_api::telemetry::FLUSH_BOUND) {
        log::warn!(
            "traces: the last spans were not exported within {} s of stopping",
            sentiment_api::telemetry::FLUSH_BOUND.as_secs()
        );
    }
    match stopped {
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
