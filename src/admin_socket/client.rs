//! The client side of the admin socket, for `sentiment-api keys usage`: it believes a listener
//! only if it runs as root, as the caller, or as the owner of a directory that only it and root
//! control (`private_dir`); anyone may have put a socket at a path in `/tmp`.

use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::private_dir::{self, BelowSticky};
use super::{Answer, UsageReport, REQUEST};

/// Longest the client waits to connect, and then for the server's answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer that is read.
const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// Asks the server listening on `path` for every quota's use; or says why not.
pub fn read_usage(path: &Path) -> Result<UsageReport, String> {
    let shown = path.display();
    let unreachable = |e: &dyn std::fmt::Display| {
        format!(
            "cannot reach a server on the admin socket {shown}: {e} \
             (is it running with ADMIN_SOCKET={shown}?)"
        )
    };
    // Connected by its resolved path, the one whose directories are checked below.
    let dir = private_dir::resolved_dir(path).map_err(|e| unreachable(&e))?;
    let Some(name) = path.file_name() else {
        return Err(format!("the admin socket {shown} names no file"));
    };
    let mut stream = connect(&dir.join(name)).map_err(|e| match e.kind() {
        ErrorKind::PermissionDenied => format!(
            "cannot use the admin socket {shown}: {e} (only the server's user and root may)"
        ),
        ErrorKind::TimedOut => format!(
            "cannot reach a server on the admin socket {shown}: no connection within {} s",
            CLIENT_TIMEOUT.as_secs()
        ),
        _ => unreachable(&e),
    })?;
    let peer = rustix::net::sockopt::socket_peercred(&stream)
        .map_err(|e| format!("cannot tell who listens on the admin socket {shown}: {e}"))?
        .uid
        .as_raw();
    let me = rustix::process::geteuid().as_raw();
    if peer != 0 && peer != me {
        let levels = private_dir::levels(&dir).map_err(|e| e.to_string());
        if let Err(why) = levels.and_then(|l| private_dir::check(&l, peer, BelowSticky::Root)) {
            return Err(format!(
                "the process listening on {shown} runs as uid {peer}, neither you nor root, and \
                 its directory is not one only it and root control ({why}): anyone could have \
                 put it there, so its counts are not shown. Give the server an ADMIN_SOCKET in a \
                 directory root made for it, such as /run/sentiment-api/admin.sock"
            ));
        }
    }
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

/// Connects within `CLIENT_TIMEOUT`. A listener that never accepts fills its queue and blocks a
/// Unix `connect` without end, and std offers no timeout for it: the attempt runs on a thread
/// of its own, left behind if it never returns (the command exits soon after).
fn connect(path: &Path) -> io::Result<UnixStream> {
    let (sent, received) = mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = sent.send(UnixStream::connect(&path));
    });
    received
        .recv_timeout(CLIENT_TIMEOUT)
        .unwrap_or_else(|_| Err(io::Error::from(ErrorKind::TimedOut)))
}

/// Sends the request and reads the whole answer.
fn exchange(stream: &mut UnixStream) -> io::Result<String> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    stream.write_all(format!("{REQUEST}\n").as_bytes())?;
    let mut text = String::new();
    stream.take(MAX_ANSWER_BYTES).read_to_string(&mut text)?;
    Ok(text)
}
