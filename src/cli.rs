//! The command line: serve (the default), `config` to show the effective configuration, and
//! `keys` to make, hash and check keys.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::admin_socket::{read_usage, UsageReport};
use crate::auth::key_file::{self, hash_hex, FileEntry};
use crate::auth::{
    every_quota_limit, generate_key, hash_key, validate_key, KeySource, Secret, MIN_KEY_CHARS,
};
use crate::config::{help_text, load_dotenv, Settings};
use crate::metrics::Metrics;
use crate::model::Models;
use crate::paths::Scope;
use crate::quota::{LocalQuotas, QuotaStore, SharedQuotas};
use crate::redis_backend::Redis;
use crate::tls::CertificateStore;

/// `println!` for the commands' output, except that a reader that went away
/// (`sentiment-api config | head -1`) ends the command quietly, as `head` expects, where
/// `println!` panics (Rust ignores SIGPIPE, so the write fails with EPIPE instead).
macro_rules! out {
    ($($arg:tt)*) => { write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes to stdout. On a broken pipe the process exits 0 at once: the reader has what it wanted.
/// Any other failure (a full disk) is an error on stderr and exit status 1.
fn write_stdout(text: fmt::Arguments) {
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// A sentiment model served over HTTP behind API-key authentication.
#[derive(Debug, Parser)]
#[command(version = version(), about)]
pub struct Cli {
    /// What to do; with none, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default), configured by the environment and `.env`.
    Serve,
    /// Print the effective configuration (environment and `.env`, defaults shown, secrets
    /// redacted), or the one-line error the server would stop with.
    Config,
    /// Make, hash and check API keys for `API_KEYS_FILE`.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `sentiment-api keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new random key: prints the key once, and its entry for the keys file.
    New(EntryArgs),
    /// Read a key made elsewhere on stdin and print its entry for the keys file.
    Hash(EntryArgs),
    /// Validate a keys file and list its keys (ids, expiry, state; never secrets).
    Check {
        /// The keys file.
        file: PathBuf,
    },
    /// Print each key's and owner's quota usage today and this month (UTC): from a running
    /// server, on its admin socket (`--socket`, or `ADMIN_SOCKET` without `REDIS_URL`), or from
    /// the counters the servers share in Redis (`REDIS_URL`, with the keys file).
    Usage {
        /// The keys file, for reading Redis; `API_KEYS_FILE` when not given.
        file: Option<PathBuf>,
        /// Ask the server listening on this admin socket (its `ADMIN_SOCKET`); it reads its own
        /// keys file.
        #[arg(long, value_name = "PATH", conflicts_with = "file")]
        socket: Option<PathBuf>,
    },
}

/// What goes into a keys-file entry besides the hash.
#[derive(Debug, Args)]
pub struct EntryArgs {
    /// The key's id, shown in logs instead of the key.
    #[arg(long)]
    id: String,
    /// When the key stops working (RFC 3339, e.g. 2027-01-31T00:00:00Z).
    #[arg(long)]
    expires: Option<String>,
    /// Who holds the key.
    #[arg(long)]
    owner: Option<String>,
    /// A route group the key may use (`predict`, `jobs`); repeat for several. None given: every one.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
}

/// Parses the command line; `--help` ends with every setting, from the declarations in `config`.
pub fn parse() -> Cli {
    let command = Cli::command().after_long_help(help_text()).after_help(
        "Settings come from the environment or .env: `--help` lists them, `config` shows them.",
    );
    Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit())
}

/// The version, and the cargo features this binary was built with.
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        // Each optional cargo feature adds its `(name, cfg!(feature = name))` here.
        let optional = [("encoder", cfg!(feature = "encoder"))];
        let features: Vec<&str> = optional
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
        format!(
            "{} (features: {})",
            env!("CARGO_PKG_VERSION"),
            if features.is_empty() {
                "default".to_owned()
            } else {
                features.join(", ")
            }
        )
    })
}

/// `sentiment-api config`: checks the configuration as a start does (settings, keys file, models)
/// and prints it, one `VARIABLE=value` a line; or the first error, as the server gives it.
pub fn config() -> ExitCode {
    let checked = (|| {
        load_dotenv()?;
        let settings = Settings::from_env().map_err(|e| e.to_string())?;
        if settings.keys.secret_key.is_some() || settings.keys.file.is_some() {
            // As a start reads them: API_SECRET_KEY and the file together, duplicates refused.
            let (source, _) = KeySource::configured(
                settings.keys.secret_key.as_ref(),
                settings.keys.file.clone(),
            )
            .map_err(|e| format!("API_SECRET_KEY: {e}"))?;
            let keys = source.load().map_err(|e| format!("API_KEYS_FILE: {e}"))?;
            out!("# {} keys in force", keys.len());
        } else {
            out!("# no key configured: the server generates one at start and prints it");
        }
        let models = Models::load(
            settings.models.names.as_deref(),
            &settings.models.default,
            settings.models.dir.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        if let Some(files) = settings.tls.files.clone() {
            let certificates = CertificateStore::load(files).map_err(|e| e.to_string())?;
            out!(
                "# TLS certificate valid until {}",
                certificates.current().not_after_text()
            );
        }
        out!("# models loaded: {}", models.names().join(", "));
        Ok::<_, String>(settings)
    })();
    match checked {
        Ok(settings) => {
            for (variable, value) in settings.describe() {
                out!("{variable}={value}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a `keys` subcommand; errors are one line on stderr and a non-zero exit.
pub fn keys(command: KeysCommand) -> ExitCode {
    let result = match command {
        KeysCommand::New(args) => generate_key()
            .map_err(|e| format!("cannot generate a key: {e}"))
            .and_then(|key| {
                let entry = entry(&args, &key)?;
                out!(
                    "New key {:?}; it is shown only this once, so store it now:\n\n    {}\n\n\
                     Its entry for the keys file (API_KEYS_FILE):\n\n{}",
                    args.id,
                    key.expose(),
                    entry.to_toml()
                );
                Ok(())
            }),
        KeysCommand::Hash(args) => read_key_from_stdin().and_then(|key| {
            write_stdout(format_args!("{}", entry(&args, &key)?.to_toml()));
            Ok(())
        }),
        KeysCommand::Check { file } => check(&file),
        KeysCommand::Usage { file, socket } => usage(file, socket),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An error may quote a server's answer or a path from a `.env`.
            eprintln!("error: {}", escape_controls(&e, Newlines::Keep));
            ExitCode::FAILURE
        }
    }
}

fn entry(args: &EntryArgs, key: &Secret) -> Result<FileEntry, String> {
    key_file::validate_id(&args.id)?;
    for scope in &args.scopes {
        if Scope::parse(scope).is_none() {
            return Err(format!(
                "--scope {scope:?} is not a scope; the scopes are {}",
                Scope::ALL.map(Scope::as_str).join(", ")
            ));
        }
    }
    if let Some(t) = &args.expires {
        OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| format!("--expires {t:?} is not an RFC 3339 time: {e}"))?;
    }
    Ok(FileEntry {
        id: args.id.clone(),
        sha256: hash_hex(&hash_key(key.expose().as_bytes())),
        expires_at: args.expires.clone(),
        enabled: true,
        owner: args.owner.clone(),
        note: None,
        rate_limit_per_minute: None,
        rate_limit_burst: None,
        scopes: (!args.scopes.is_empty()).then(|| args.scopes.clone()),
        quota: None,
    })
}

fn read_key_from_stdin() -> Result<Secret, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the key from stdin: {e}"))?;
    // The server ignores surrounding whitespace in the header, so the hash must too.
    validate_key(text.trim())
        .map_err(|e| format!("key on stdin: {e} (keys need at least {MIN_KEY_CHARS} characters)"))
}

fn check(file: &std::path::Path) -> Result<(), String> {
    let (entries, notes) = key_file::load_noting(file).map_err(|e| e.to_string())?;
    let now = OffsetDateTime::now_utc();
    out!("{}: {} keys", file.display(), entries.len());
    for note in notes {
        out!("  warning: {note}");
    }
    for e in &entries {
        let state = if !e.enabled {
            "disabled"
        } else if e.is_expired(now) {
            "expired"
        } else {
            "active"
        };
        let expires = e
            .expires_at
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "never".into());
        let scopes = match &e.scopes {
            None => "all".to_owned(),
            Some(scopes) if scopes.is_empty() => "none".to_owned(),
            Some(scopes) => scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
        };
        out!(
            "  {:<24} {:<8} expires {:<25} scopes {:<14} owner {}",
            e.id,
            state,
            expires,
            scopes,
            e.owner.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// `keys usage`: every quota's use today and this month, one line each, from a running server's
/// admin socket or from Redis (the quotas of `file`, else `API_KEYS_FILE`); or why not.
fn usage(file: Option<PathBuf>, socket: Option<PathBuf>) -> Result<(), String> {
    // An explicit socket needs no setting: neither a bad one nor a `.env` this user cannot read
    // (in the directory `sudo -u` kept) stops it.
    if let Some(socket) = socket {
        return usage_from_socket(&socket);
    }
    load_dotenv()?;
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    // Redis, which every replica counts in; else this machine's server, the only holder of the
    // counts without Redis.
    if let (None, Some(socket)) = (&settings.redis, &settings.keys.admin_socket) {
        return usage_from_socket(socket);
    }
    let file = file.or_else(|| settings.keys.file.clone());
    let limits = match &file {
        Some(file) => {
            let entries = key_file::load(file).map_err(|e| e.to_string())?;
            let limits = every_quota_limit(&entries);
            if limits.is_empty() {
                out!("{}: no key or owner has a quota", file.display());
                return Ok(());
            }
            Some(limits)
        }
        None => None,
    };
    let Some(redis) = settings.redis else {
        return Err(
            "neither REDIS_URL nor ADMIN_SOCKET is set: without Redis each server counts quotas in \
             its own memory; start it with ADMIN_SOCKET=PATH and run `keys usage --socket PATH` \
             (a key reads its own usage at GET /me)"
                .into(),
        );
    };
    let limits = limits.ok_or("no keys file: give one, or set API_KEYS_FILE")?;
    let shown = redis.redacted_url();
    let now = OffsetDateTime::now_utc();
    let usage = actix_rt::System::new().block_on(async move {
        let redis = Redis::new(redis, Metrics::new().redis());
        let quotas = SharedQuotas::new(redis.connect(), Arc::new(LocalQuotas::new()));
        quotas.read(&limits, now).await
    });
    let usage = usage.map_err(|e| {
        format!(
            "cannot read the counters from {shown}: {e} (a running server's own view: \
             `keys usage --socket PATH`, with its ADMIN_SOCKET)"
        )
    })?;
    print_usage(
        &UsageReport::from(&usage),
        &format!("from Redis at {shown}"),
    )
}

/// `keys usage` from the server listening on `socket`.
fn usage_from_socket(socket: &Path) -> Result<(), String> {
    let report = read_usage(socket)?;
    let place = match report.counted_in.as_str() {
        "redis" => "Redis",
        _ => "the server's memory",
    };
    print_usage(
        &report,
        &format!(
            "from the server on {}, counted in {place}",
            socket.display()
        ),
    )
}

/// Whether `escape_controls` leaves line ends as they are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Newlines {
    Keep,
    Escape,
}

/// `text` with control characters escaped (`\u{1b}`): names and messages may come from a keys
/// file, a socket or a `.env`, and an escape sequence must not reach the operator's terminal.
fn escape_controls(text: &str, newlines: Newlines) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && !(c == '\n' && newlines == Newlines::Keep) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One field of a line `keys usage` prints: on one line, without control characters.
fn printable(text: &str) -> String {
    escape_controls(text, Newlines::Escape)
}

/// Prints `report`, one line per key or owner and period, under a heading naming its source.
fn print_usage(report: &UsageReport, source: &str) -> Result<(), String> {
    if report.counts.is_empty() {
        out!("no key or owner has a quota");
        return Ok(());
    }
    out!(
        "# quota usage at {} (UTC days and months) {}",
        printable(&report.at),
        printable(source)
    );
    for line in &report.counts {
        out!(
            "{:<6} {:<24} {:<6} {:>10} of {:<10} {:>10} left, resets in {} s",
            printable(&line.holder),
            printable(&line.name),
            printable(&line.period),
            line.used,
            line.limit,
            line.remaining,
            line.reset_seconds
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_printed_without_control_characters() {
        assert_eq!(printable("acme"), "acme");
        assert_eq!(printable("a\nb"), "a\\u{a}b");
        assert_eq!(
            escape_controls("one\ntwo\u{1b}[2J", Newlines::Keep),
            "one\ntwo\\u{1b}[2J"
        );
        assert_eq!(printable("a\u{1b}]0;pwned\u{7}"), "a\\u{1b}]0;pwned\\u{7}");
    }
}
