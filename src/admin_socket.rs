//! The admin socket (`ADMIN_SOCKET`): a Unix socket on which a running server tells
//! `sentiment-api keys usage` what every key and owner has spent of its quotas. Without Redis the
//! counters live only in the server's memory, so this is the one place an operator can read them
//! all; with Redis it answers the shared counters, as that server sees them.
//!
//! Not HTTP, and not on the API's listener: a client writes the line `usage` and reads one JSON
//! document, `{"usage": {...}}` or `{"error": "..."}`. Only the server's own user (and root) may
//! ask: the socket is made mode 0600 and each peer's uid is checked as well. It carries ids,
//! owners and counts, never a key or a hash.
//!
//! Both ends check the other. The server will not bind in a directory that other users may
//! write without the sticky bit (they could swap the socket between its creation and its
//! `chmod`), and the client believes only a listener it can trust (`trusted_listener`): anyone
//! may put a socket at a path in `/tmp` and answer with made-up counts.

use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::auth::{every_quota_limit, KeyStore};
use crate::quota::{CountedIn, Quotas, Usage};

/// The request line a client sends.
const REQUEST: &str = "usage";
/// Longest a peer may take to send its request line.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest one peer is served, reading its answer included.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);
/// Peers served at once, each in its own task, so a silent one holds up no other; more wait their
/// turn in the listen queue.
const MAX_PEERS: usize = 16;
/// Longest the client waits for the server's answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request line longer than this is not `usage`.
const MAX_REQUEST_BYTES: usize = 64;

/// What the server answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Answer {
    Usage(UsageReport),
    Error(String),
}

/// Every quota's use at one instant, as `keys usage` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    /// When the counts were read (RFC 3339, UTC).
    pub at: String,
    /// `redis` (shared by the replicas) or `process` (this server's memory).
    pub counted_in: String,
    /// One line per key or owner and period.
    pub counts: Vec<UsageLine>,
}

/// One quota's use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLine {
    /// `key` or `owner`.
    pub holder: String,
    /// The key's id or the owner's name.
    pub name: String,
    /// `day` or `month`.
    pub period: String,
    /// Units spent in the period.
    pub used: u64,
    /// Units allowed in the period.
    pub limit: u64,
    /// Units left.
    pub remaining: u64,
    /// Seconds until the period ends.
    pub reset_seconds: u64,
}

impl From<&Usage> for UsageReport {
    fn from(usage: &Usage) -> Self {
        UsageReport {
            at: usage.at.format(&Rfc3339).unwrap_or_default(),
            counted_in: match usage.counted_in {
                CountedIn::Redis => "redis",
                CountedIn::Process => "process",
            }
            .into(),
            counts: usage
                .counts
                .iter()
                .map(|count| UsageLine {
                    holder: count.limit.holder.kind().into(),
                    name: count.limit.holder.name().into(),
                    period: count.limit.period.as_str().into(),
                    used: count.used,
                    limit: count.limit.limit,
                    remaining: count.remaining(),
                    reset_seconds: count.limit.period.secs_until_reset(usage.at),
                })
                .collect(),
        }
    }
}

/// The socket, bound and not yet served.
#[derive(Debug)]
pub struct AdminSocket {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    uid: u32,
}

impl AdminSocket {
    /// Binds `path`, mode 0600. A socket left there by a server that is gone is replaced; one
    /// that another process still answers on, a file that is not a socket, or a directory that
    /// other users may write without the sticky bit, is an error.
    pub fn bind(path: &Path) -> io::Result<AdminSocket> {
        let dir = parent_dir(path);
        let dir_mode = std::fs::metadata(dir)?.mode();
        if dir_mode & 0o022 != 0 && dir_mode & 0o1000 == 0 {
            return Err(io::Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "its directory {} may be written by other users (mode {:o}, no sticky bit), \
                     who could swap the socket: use a directory only the service user can write, \
                     such as /run/sentiment-api",
                    dir.display(),
                    dir_mode & 0o7777
                ),
            ));
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(io::Error::new(
                        ErrorKind::AddrInUse,
                        "another process is listening on it",
                    ));
                }
                std::fs::remove_file(path)?;
            }
            Ok(_) => {
                return Err(io::Error::new(
                    ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way (not removed)",
                ))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        let uid = rustix::process::geteuid().as_raw();
        Ok(AdminSocket {
            listener,
            path: path.to_owned(),
            uid,
        })
    }

    /// Answers peers on the current actix system until it stops, up to `MAX_PEERS` at once; the
    /// socket file is removed when it does. `quotas` reads the counters (a spend of zero units).
    pub fn serve(self, keys: Arc<KeyStore>, quotas: Quotas) -> io::Result<()> {
        let listener = actix_rt::net::UnixListener::from_std(self.listener)?;
        let file = RemoveOnDrop(self.path);
        let uid = self.uid;
        // Read by this thread's tasks only (the counters it reaches may not be `Send`).
        let quotas = Rc::new(quotas);
        let peers = Arc::new(Semaphore::new(MAX_PEERS));
        log::info!("admin socket on {}", file.0.display());
        actix_rt::spawn(async move {
            let _file = file;
            loop {
                // With `MAX_PEERS` being served, the next one waits in the listen queue.
                let Ok(permit) = Arc::clone(&peers).acquire_owned().await else {
                    return;
                };
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        log::warn!("admin socket: accept failed: {e}");
                        actix_rt::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (keys, quotas) = (Arc::clone(&keys), Rc::clone(&quotas));
                actix_rt::spawn(async move {
                    let _permit = permit;
                    let served = answer(stream, uid, &keys, &quotas);
                    match actix_rt::time::timeout(PEER_TIMEOUT, served).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => log::warn!("admin socket: {e}"),
                        Err(_) => log::warn!("admin socket: a peer took over 10 s; dropped"),
                    }
                });
            }
        });
        Ok(())
    }
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Removes the socket file when the server stops.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads one request from `stream` and answers it.
async fn answer(
    stream: actix_rt::net::UnixStream,
    uid: u32,
    keys: &KeyStore,
    quotas: &Quotas,
) -> io::Result<()> {
    let peer = stream.peer_cred()?.uid();
    // Read first, even from a peer about to be refused: closing a socket with unread data resets
    // the connection, and the peer would see "connection reset" instead of the reason.
    let request = actix_rt::time::timeout(READ_TIMEOUT, read_request(&stream)).await;
    let answer = if peer != uid && peer != 0 {
        let allowed = match uid {
            0 => "only root may ask".to_owned(),
            uid => format!("only uid {uid} (the server's) or root may ask"),
        };
        log::warn!("admin socket: refused a peer of uid {peer} ({allowed})");
        Answer::Error(allowed)
    } else {
        match request {
            Err(_) => Answer::Error("no request line within 2 s".into()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(line)) if line == REQUEST => {
                let limits = every_quota_limit(keys.snapshot().entries());
                match quotas.spend(&limits, 0).await {
                    Ok(usage) => Answer::Usage(UsageReport::from(&usage)),
                    Err(e) => Answer::Error(format!("the quota counters cannot be read: {e}")),
                }
            }
            Ok(Ok(_)) => Answer::Error(format!("unknown request: send `{REQUEST}`")),
        }
    };
    let mut body = serde_json::to_vec(&answer).map_err(io::Error::other)?;
    body.push(b'\n');
    write_all(&stream, &body).await
}

/// The request line, without its end of line; at most `MAX_REQUEST_BYTES`.
async fn read_request(stream: &actix_rt::net::UnixStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut buf = [0u8; MAX_REQUEST_BYTES];
    while !line.contains(&b'\n') && line.len() <= MAX_REQUEST_BYTES {
        stream.readable().await?;
        match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => line.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    Ok(String::from_utf8_lossy(&line[..end]).trim().to_owned())
}

async fn write_all(stream: &actix_rt::net::UnixStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Asks the server listening on `path` for every quota's use (the client side of `keys usage`).
pub fn read_usage(path: &Path) -> Result<UsageReport, String> {
    let shown = path.display();
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| match e.kind() {
        ErrorKind::PermissionDenied => format!(
            "cannot use the admin socket {shown}: {e} (only the server's user and root may)"
        ),
        _ => format!(
            "cannot reach a server on the admin socket {shown}: {e} \
             (is it running with ADMIN_SOCKET={shown}?)"
        ),
    })?;
    let peer = rustix::net::sockopt::socket_peercred(&stream)
        .map_err(|e| format!("cannot tell who listens on the admin socket {shown}: {e}"))?
        .uid
        .as_raw();
    let dir = parent_dir(path);
    let dir_meta = std::fs::metadata(dir).ok();
    let dir_owner = dir_meta.as_ref().map(|m| (m.uid(), m.mode()));
    let me = rustix::process::geteuid().as_raw();
    if !trusted_listener(peer, me, dir_owner) {
        return Err(format!(
            "the process listening on {shown} runs as uid {peer}: not you, not root, and not the \
             owner of {dir} (a directory only its owner may write), so anyone could have put it \
             there; its counts are not shown. Give the server an ADMIN_SOCKET in a directory only \
             its user can write, such as /run/sentiment-api/admin.sock",
            dir = dir.display()
        ));
    }
    let exchange = |stream: &mut std::os::unix::net::UnixStream| -> io::Result<String> {
        stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
        stream.write_all(format!("{REQUEST}\n").as_bytes())?;
        let mut text = String::new();
        stream.take(64 << 20).read_to_string(&mut text)?;
        Ok(text)
    };
    let text = exchange(&mut stream).map_err(|e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
            "no answer from the server on the admin socket {shown} within {} s",
            CLIENT_TIMEOUT.as_secs()
        ),
        _ => format!("no answer from the server on the admin socket {shown}: {e}"),
    })?;
    match serde_json::from_str(&text) {
        Ok(Answer::Usage(report)) => Ok(report),
        Ok(Answer::Error(e)) => Err(format!("the server on {shown} answered: {e}")),
        Err(e) => Err(format!(
            "the answer on the admin socket {shown} is not a usage report: {e}"
        )),
    }
}

/// Whether the client may believe a listener of uid `peer`, as user `me`, when the socket's
/// directory has owner and mode `dir`: root, the caller itself, or the owner of a directory no one
/// else may write (a service's own, such as `/run/sentiment-api`). Anyone else may have put a
/// socket there first, in `/tmp` say, to answer with counts of its own making.
fn trusted_listener(peer: u32, me: u32, dir: Option<(u32, u32)>) -> bool {
    peer == 0
        || peer == me
        || matches!(dir, Some((owner, mode)) if owner == peer && mode & 0o022 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sentiment-api-admin-socket-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("admin.sock")
    }

    #[test]
    fn a_socket_another_process_answers_on_is_not_taken() {
        let path = temp_path("in-use");
        let _ = std::fs::remove_file(&path);
        let first = AdminSocket::bind(&path).unwrap();
        let err = AdminSocket::bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        drop(first);
        // Gone (its listener closed), it is replaced.
        assert!(AdminSocket::bind(&path).is_ok());
    }

    #[test]
    fn a_directory_others_may_write_without_the_sticky_bit_is_refused() {
        let path = temp_path("open-dir");
        let dir = path.parent().unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = AdminSocket::bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("mode 777"), "{err}");
        assert!(!path.exists(), "nothing bound");
        // With the sticky bit (as /tmp has) no one else may rename or remove the socket.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(AdminSocket::bind(&path).is_ok());
    }

    #[test]
    fn the_client_believes_root_itself_or_the_owner_of_a_private_directory() {
        let private = Some((998, 0o40750));
        assert!(trusted_listener(0, 1000, None), "root");
        assert!(trusted_listener(1000, 1000, None), "the caller itself");
        assert!(
            trusted_listener(998, 0, private),
            "the service user, in its own directory"
        );
        assert!(
            !trusted_listener(998, 0, Some((0, 0o41777))),
            "a stranger, in /tmp"
        );
        assert!(
            !trusted_listener(998, 0, Some((998, 0o40777))),
            "a directory others may write"
        );
        assert!(
            !trusted_listener(998, 1000, Some((997, 0o40750))),
            "someone else's directory"
        );
        assert!(
            !trusted_listener(998, 1000, None),
            "a directory that cannot be read"
        );
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_never_removed() {
        let path = temp_path("regular-file");
        std::fs::write(&path, "precious").unwrap();
        let err = AdminSocket::bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    }
}
