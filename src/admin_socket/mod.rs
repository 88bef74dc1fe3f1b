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
//! Both ends check the other. The server binds only in a directory that only its user and root
//! control (`private_dir`: else another user could swap the socket between its creation and its
//! `chmod`, or take its place), and the client believes only a listener run by root or by the
//! caller (`client`): any user may listen on a socket and answer with made-up counts.

mod client;
mod private_dir;

pub use client::read_usage;

use std::io::{self, ErrorKind};
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
    file: RemoveOnDrop,
    uid: u32,
}

impl AdminSocket {
    /// Binds `path`, mode 0600. A socket left there by a server that is gone is replaced; one
    /// that another process still answers on, a file that is not a socket, or a directory that
    /// others control (`private_dir`), is an error.
    pub fn bind(path: &Path) -> io::Result<AdminSocket> {
        let uid = rustix::process::geteuid().as_raw();
        let dir = private_dir::resolved_dir(path)?;
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "it names no file"))?;
        private_dir::check(&private_dir::levels(&dir)?, uid).map_err(|why| {
            io::Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "its directory is not one only this user (uid {uid}) and root control \
                         ({why}): use one made for it, such as /run/sentiment-api"
                ),
            )
        })?;
        // Bound by its resolved path, the one just checked.
        let path = &dir.join(name);
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
        // No one else may change the directory (checked above), so this is our socket.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        let bound = std::fs::symlink_metadata(path)?;
        Ok(AdminSocket {
            listener,
            file: RemoveOnDrop {
                path: path.to_owned(),
                dev: bound.dev(),
                ino: bound.ino(),
            },
            uid,
        })
    }

    /// Answers peers on the current actix system until it stops, up to `MAX_PEERS` at once; the
    /// socket file is removed when it does. `quotas` reads the counters, off the request path.
    pub fn serve(self, keys: Arc<KeyStore>, quotas: Quotas) -> io::Result<()> {
        let listener = actix_rt::net::UnixListener::from_std(self.listener)?;
        let file = self.file;
        let uid = self.uid;
        // Read by this thread's tasks only (the counters it reaches may not be `Send`).
        let quotas = Rc::new(quotas);
        let peers = Arc::new(Semaphore::new(MAX_PEERS));
        log::info!("admin socket on {}", file.path.display());
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

/// Removes the socket file when the server stops, if it is still the one bound (not a file that
/// has since taken its place).
#[derive(Debug)]
struct RemoveOnDrop {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => {
                let _ = std::fs::remove_file(&self.path);
            }
            _ => {}
        }
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
                match quotas.read(&limits).await {
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
    fn a_directory_others_may_write_is_refused_sticky_or_not() {
        let path = temp_path("open-dir");
        let dir = path.parent().unwrap();
        for mode in [0o777, 0o1777] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = AdminSocket::bind(&path).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
            assert!(
                err.to_string().contains("may be written by other users"),
                "{err}"
            );
            assert!(!path.exists(), "nothing bound");
        }
    }

    #[test]
    fn a_file_that_took_the_sockets_place_is_not_removed_at_the_stop() {
        let path = temp_path("replaced");
        let _ = std::fs::remove_file(&path);
        let socket = AdminSocket::bind(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "someone else's").unwrap();
        drop(socket);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's");
        std::fs::remove_file(&path).unwrap();
        let socket = AdminSocket::bind(&path).unwrap();
        drop(socket);
        assert!(!path.exists(), "its own socket is removed");
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
