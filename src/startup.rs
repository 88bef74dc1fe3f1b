//! Builds the server: shared state once, the route table, error handlers, middleware, plain HTTP
//! or HTTPS; the warning against serving keys in clear; and the signals that stop it.

use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::admin_socket::AdminSocket;
use crate::auth::{spawn_reloader, KeyStore, Keys};
use crate::config::Settings;
use crate::error::{ApiError, ValidationItem};
use crate::http::Gate;
use crate::inference::Inference;
use crate::jobs::{self, InMemoryJobStore, JobLimits, JobStore, RedisJobStore};
use crate::limits::{
    spawn_sweeper, AuthThrottle, InFlight, Limits, LocalLimits, RateLimiter, RateLimits,
    SharedLimits,
};
use crate::metrics::Metrics;
use crate::middleware::Frontdoor;
use crate::model::Models;
use crate::quota::{LocalQuotas, QuotaStore, Quotas, SharedQuotas};
use crate::readiness::Readiness;
use crate::redis_backend::Redis;
use crate::routes;
use crate::routes::docs::{ApiDocument, SwaggerConfig};
use crate::routes::openapi;
use crate::state::AppState;
use crate::tls::{self, CertificateStore};

/// A server that is running: await `server`; `readiness` turns to draining when it is told to stop.
pub struct Running {
    /// The server; it resolves once stopped.
    pub server: Server,
    /// What `/health/ready` answers.
    pub readiness: Arc<Readiness>,
}

/// Where the server listens: a bound TCP socket, speaking plain HTTP, or HTTPS with the
/// certificates of a store.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<Arc<CertificateStore>>,
}

impl Listener {
    /// HTTPS on `tcp`, with the certificate in force in `certificates` (reloaded while serving).
    pub fn https(tcp: TcpListener, certificates: CertificateStore) -> Self {
        Listener {
            tcp,
            tls: Some(Arc::new(certificates)),
        }
    }
}

impl From<TcpListener> for Listener {
    /// Plain HTTP on `tcp`.
    fn from(tcp: TcpListener) -> Self {
        Listener { tcp, tls: None }
    }
}

/// Starts serving `keys` on `listener` (bound by the caller, so tests can use port 0; a plain
/// `TcpListener` serves HTTP, [`Listener::https`] HTTPS). Must be called from
/// within an actix system; await the result's `server`.
pub fn run(
    listener: impl Into<Listener>,
    settings: Settings,
    keys: Keys,
    models: Models,
) -> std::io::Result<Running> {
    let Listener { tcp, tls } = listener.into();
    // Shared state is built once, here, and cloned into every worker.
    let store = web::Data::new(KeyStore::new(keys.set));
    spawn_reloader(store.clone().into_inner(), keys.source, settings.keys.poll);
    let metrics = web::Data::new(Metrics::new());
    metrics.enable_owner_usage(settings.limits.quota_owner_metrics);
    let model_names = models.names();
    let document = web::Data::new(ApiDocument(openapi::document(
        &settings.input,
        &models.names(),
    )));
    let inference = Inference::new(
        models,
        settings.jobs.inference_threads,
        settings.jobs.inference_timeout,
    );
    let job_limits = JobLimits {
        max_pending: settings.jobs.max_pending,
        max_stored: settings.jobs.max_stored,
        max_bytes: settings.jobs.max_bytes,
        ttl: settings.jobs.ttl,
        // A job's inference is bounded by INFERENCE_TIMEOUT_MS; the rest is a margin for a busy
        // blocking pool and a slow Redis.
        run_deadline: settings.jobs.inference_timeout * 2 + Duration::from_secs(5),
    };
    // Without Redis, one store in this process's memory, shared by the workers.
    let local_jobs = Arc::new(InMemoryJobStore::new(
        job_limits.max_pending,
        job_limits.max_stored,
        job_limits.max_bytes,
        job_limits.ttl,
    ));
    let limits = settings.input;
    let swagger = web::Data::new(SwaggerConfig::default());
    // In this process: the limits without Redis, and the `REDIS_FAILURE_MODE=open` fallback with.
    let local_limits = LocalLimits {
        quotas: Arc::new(RateLimits::new(settings.limits.rate_limit)),
        throttle: Arc::new(AuthThrottle::new(
            settings.limits.auth_failures_per_window,
            settings.limits.auth_failure_window,
        )),
    };
    spawn_sweeper(Arc::clone(&local_limits.throttle));
    let polls = Arc::new(RateLimiter::new());
    // Day and month quotas (issue 28): in this process, or the fallback of the Redis ones.
    let local_quotas = Arc::new(LocalQuotas::new());
    let wall_clock = settings.wall_clock.clone();
    // With `REDIS_URL`, the limits and the throttle above are only the fallback of
    // `REDIS_FAILURE_MODE=open`; each worker talks to Redis on its own connection.
    let redis = settings.redis.clone().map(|redis| {
        log::info!(
            "limits and the failed-key throttle are shared through Redis at {} (prefix {}, \
             timeout {} ms, failure mode {})",
            redis.redacted_url(),
            redis.key_prefix,
            redis.timeout.as_millis(),
            redis.failure_mode.as_str()
        );
        Redis::new(redis, metrics.redis())
    });
    let proxies = Arc::new(settings.limits.trusted_proxies.clone());
    // With Redis, one job store for the workers, on a thread of its own (see `RedisJobStore`).
    let shared_jobs = redis.as_ref().map(|redis| {
        Arc::new(RedisJobStore::new(
            redis,
            job_limits.clone(),
            model_names.clone(),
        ))
    });
    let job_reads = Arc::new(tokio::sync::Semaphore::new(jobs::READS_AT_ONCE));
    let in_flight = web::Data::new(InFlight::new(settings.limits.max_concurrent_requests));
    let readiness = web::Data::new(Readiness::new());
    let cors = settings.limits.cors.clone().map(Arc::new);
    let ready = readiness.clone().into_inner();
    let certificates = tls.clone().map(web::Data::from);
    if let Some(store) = &tls {
        tls::spawn_reloader(Arc::clone(store), settings.tls.poll);
    }
    let hsts_max_age = tls.as_ref().and(settings.tls.hsts_max_age);
    if let Some(path) = &settings.keys.admin_socket {
        let named = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("ADMIN_SOCKET {}: {e}", path.display()))
        };
        let socket = AdminSocket::bind(path).map_err(named)?;
        // It reads the counters the workers spend from: Redis's with `REDIS_URL`, else this
        // process's.
        let quota_store: Box<dyn QuotaStore> = match &redis {
            None => Box::new(Arc::clone(&local_quotas)),
            Some(redis) => Box::new(SharedQuotas::new(
                redis.connect(),
                Arc::clone(&local_quotas),
            )),
        };
        let quotas = Quotas::new(quota_store, wall_clock.clone());
        socket
            .serve(store.clone().into_inner(), quotas)
            .map_err(named)?;
    }

    let server = HttpServer::new(move || {
        // What every request writes or extracts is held once per worker: the per-request
        // metric series (summed at scrape), and the app data handlers extract (extracting a
        // `web::Data` clones its `Arc`, and the count of one `Arc` shared by all workers is a
        // cache line they would all write to, on every request). Inference's own state stays
        // shared behind its inner `Arc`s.
        let shard = metrics.new_shard();
        let inference = web::Data::new(inference.clone().with_metrics(Arc::clone(&shard)));
        let limits = web::Data::new(limits);
        let certificates = certificates.clone();
        // The backends, chosen here once. Each worker talks to Redis about limits on its own
        // connection (its driver task lives on this worker's runtime); the jobs have their own
        // connection and thread, so a megabyte of results never holds the limits' calls.
        let (key_limits, jobs, quota_store): (
            Rc<dyn Limits>,
            Arc<dyn JobStore>,
            Box<dyn QuotaStore>,
        ) = match &redis {
            None => (
                Rc::new(local_limits.clone()),
                local_jobs.clone(),
                Box::new(Arc::clone(&local_quotas)),
            ),
            Some(redis) => {
                let conn = redis.connect();
                // Connect now rather than on the first request: a burst arriving at a cold
                // connection would spend REDIS_TIMEOUT_MS waiting for the handshake.
                let warm = conn.clone();
                actix_rt::spawn(async move {
                    let _ = warm.probe().await;
                });
                let jobs = shared_jobs
                    .clone()
                    .expect("a job store wherever there is Redis");
                let quotas = SharedQuotas::new(conn.clone(), Arc::clone(&local_quotas));
                (
                    Rc::new(SharedLimits::new(conn, local_limits.clone())),
                    jobs,
                    Box::new(quotas),
                )
            }
        };
        let gate = Rc::new(Gate::new(
            store.clone(),
            key_limits,
            Arc::clone(&proxies),
            Arc::clone(&polls),
            Rc::new(Quotas::new(quota_store, wall_clock.clone())),
        ));
        let state = web::Data::new(AppState {
            jobs,
            gate: Rc::clone(&gate),
            job_reads: Arc::clone(&job_reads),
        });
        App::new()
            .app_data(store.clone())
            .app_data(metrics.clone())
            .app_data(inference)
            .app_data(state)
            .app_data(limits)
            .app_data(document.clone())
            .app_data(swagger.clone())
            .app_data(in_flight.clone())
            .app_data(readiness.clone())
            .configure(|app| {
                if let Some(cors) = &cors {
                    app.app_data(web::Data::from(Arc::clone(cors)));
                }
                // Only a server with TLS has a certificate store (the metrics look for one).
                if let Some(certificates) = certificates {
                    app.app_data(certificates);
                }
            })
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                let item = ValidationItem::value_error(
                    vec!["query".into()],
                    serde_json::Value::Null,
                    &err.to_string(),
                );
                ApiError::invalid(item).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
            .configure(routes::configure(gate))
            .default_service(web::to(routes::not_found))
            .wrap(
                Frontdoor::new(shard, in_flight.clone().into_inner(), cors.clone())
                    .with_hsts(hsts_max_age),
            )
    })
    .workers(settings.listen.workers)
    .shutdown_timeout(settings.shutdown.timeout.as_secs())
    // Signals are the binary's business (see `stop_on_signals`), not every test server's.
    .disable_signals();
    let server = match tls {
        Some(store) => {
            let config = store.server_config().map_err(std::io::Error::other)?;
            server.listen_rustls_0_23(tcp, config)?
        }
        None => server.listen(tcp)?,
    };
    Ok(Running {
        server: server.run(),
        readiness: ready,
    })
}

/// The warnings a start on `bound` deserves, one line each: keys sent in clear over the network
/// (plain HTTP on an address that more than the trusted proxies can reach: anything but loopback
/// or an address inside a `TRUSTED_PROXIES` block; `0.0.0.0` and `::` are every interface), an
/// `HSTS_MAX_AGE` that plain HTTP cannot send, and a `TLS_KEY_FILE` others may read.
pub fn transport_warnings(bound: SocketAddr, settings: &Settings) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(files) = &settings.tls.files {
        if let Some(mode) = readable_by_others(&files.key) {
            warnings.push(format!(
                "TLS_KEY_FILE {} can be read by its group or others (mode {mode:o}): anyone who \
                 reads it can impersonate this server; chmod 600 it",
                files.key.display()
            ));
        }
        return warnings;
    }
    let ip = bound.ip().to_canonical();
    let proxies_only = !ip.is_unspecified() && settings.limits.trusted_proxies.contains(ip);
    if !ip.is_loopback() && !proxies_only {
        let who = if settings.limits.trusted_proxies.is_empty() {
            "no TRUSTED_PROXIES are set".to_owned()
        } else if ip.is_unspecified() {
            format!(
                "TRUSTED_PROXIES ({}) are set, but {ip} is every interface: any host that \
                 reaches this one can send keys in clear past the proxy",
                settings.limits.trusted_proxies
            )
        } else {
            format!(
                "TRUSTED_PROXIES ({}) are set, but {ip} is not in their network",
                settings.limits.trusted_proxies
            )
        };
        warnings.push(format!(
            "INSECURE: listening on {bound}, beyond this machine, over plain HTTP ({who}): every \
             API key crosses the network in clear text. Set TLS_CERT_FILE and TLS_KEY_FILE to \
             serve HTTPS, or put a TLS-terminating proxy in front, set TRUSTED_PROXIES to its \
             address and HOST to loopback or an address only it reaches (docs/deploy.md#https)"
        ));
    }
    if settings.tls.hsts_max_age.is_some() {
        warnings.push(
            "HSTS_MAX_AGE is set but this server speaks plain HTTP, where the header means \
             nothing: none is sent (set it at the proxy that ends TLS)"
                .into(),
        );
    }
    warnings
}

/// The file's permission bits when its group or others may read it (Unix only).
fn readable_by_others(path: &std::path::Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o044 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Stops the server gracefully on SIGTERM or SIGINT (Ctrl-C elsewhere than Unix): readiness
/// turns to draining at once; after `delay`, the listener closes and requests in flight finish (up
/// to the shutdown timeout); then the server resolves and the process exits 0.
pub fn stop_on_signals(running: &Running, delay: Duration) {
    let handle = running.server.handle();
    let readiness = Arc::clone(&running.readiness);
    // Registered here, before returning, so that a signal sent as soon as the server is up (the
    // "listening on" line is written next) finds the handler rather than the default action.
    let Some(mut signals) = StopSignals::listen() else {
        return;
    };
    actix_rt::spawn(async move {
        let name = signals.recv().await;
        readiness.drain();
        if !delay.is_zero() {
            log::info!(
                "{name} received: not ready; closing the listener in {} s",
                delay.as_secs()
            );
            actix_rt::time::sleep(delay).await;
        }
        log::info!("{name} received: no new connections; finishing requests in flight");
        handle.stop(true).await;
    });
}

/// The signals that stop the server: SIGTERM and SIGINT on Unix, Ctrl-C elsewhere.
struct StopSignals {
    #[cfg(unix)]
    term: actix_rt::signal::unix::Signal,
    #[cfg(unix)]
    int: actix_rt::signal::unix::Signal,
}

impl StopSignals {
    /// Listens for them from now on; `None` (and a warning) when they cannot be listened for.
    #[cfg(unix)]
    fn listen() -> Option<Self> {
        use actix_rt::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some(StopSignals { term, int }),
            _ => {
                log::warn!("cannot listen for SIGTERM/SIGINT; they will stop the process at once");
                None
            }
        }
    }

    #[cfg(not(unix))]
    fn listen() -> Option<Self> {
        Some(StopSignals {})
    }

    /// The first to arrive, by name.
    #[cfg(unix)]
    async fn recv(&mut self) -> &'static str {
        use futures_util::future::{select, Either};
        let term = std::pin::pin!(self.term.recv());
        let int = std::pin::pin!(self.int.recv());
        match select(term, int).await {
            Either::Left(_) => "SIGTERM",
            Either::Right(_) => "SIGINT",
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) -> &'static str {
        match actix_rt::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(e) => {
                log::warn!("cannot listen for Ctrl-C ({e}); it will stop the process at once");
                std::future::pending().await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&'static str, &str)]) -> Settings {
        Settings::from_lookup(|name| {
            Ok(vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string()))
        })
        .unwrap()
    }

    #[test]
    fn only_plain_http_beyond_loopback_with_no_proxy_is_warned_about() {
        let any: SocketAddr = "0.0.0.0:8000".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:8000".parse().unwrap();
        let v6_any: SocketAddr = "[::]:8000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let v6_local: SocketAddr = "[::1]:8000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:8000".parse().unwrap();
        let plain = settings(&[]);
        for exposed in [any, lan, v6_any] {
            let warnings = transport_warnings(exposed, &plain);
            assert_eq!(warnings.len(), 1, "{exposed}");
            assert!(warnings[0].starts_with("INSECURE"), "{warnings:?}");
        }
        for loopback in [local, v6_local, mapped] {
            assert!(
                transport_warnings(loopback, &plain).is_empty(),
                "{loopback}"
            );
        }
        // A proxy is trusted, but 0.0.0.0 is every interface: still insecure, and said why.
        let proxied = settings(&[("TRUSTED_PROXIES", "127.0.0.1")]);
        let warnings = transport_warnings(any, &proxied);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("every interface"), "{warnings:?}");
        assert_eq!(transport_warnings(lan, &proxied).len(), 1);
        // Bound to the proxy's own network: only the proxies can reach it.
        let on_proxy_net = settings(&[("TRUSTED_PROXIES", "192.168.1.0/24")]);
        assert!(transport_warnings(lan, &on_proxy_net).is_empty());
        assert!(transport_warnings(local, &proxied).is_empty());
        let tls = settings(&[("TLS_CERT_FILE", "c"), ("TLS_KEY_FILE", "k")]);
        assert!(transport_warnings(any, &tls).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_tls_key_file_others_can_read_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tls-key-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        std::fs::write(&key, "not really a key").unwrap();
        let key_path = key.to_str().unwrap().to_owned();
        let tls = settings(&[("TLS_CERT_FILE", "c"), ("TLS_KEY_FILE", &key_path)]);
        let any: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warnings = transport_warnings(any, &tls);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("TLS_KEY_FILE"), "{warnings:?}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(transport_warnings(any, &tls).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hsts_without_tls_is_warned_about() {
        let local: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let warnings = transport_warnings(local, &settings(&[("HSTS_MAX_AGE", "60")]));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("HSTS_MAX_AGE"), "{warnings:?}");
    }
}
