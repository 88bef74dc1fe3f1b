//! The client side of the admin socket, for `sentiment-api keys usage`: it believes a listener
//! only if it runs as root or as the caller. Nothing else tells a service's user from any other:
//! a directory that only its owner controls may be anyone's home, and anyone may put a socket
//! in `/tmp`. So the command is run as the server's user (or as root, for a server run as root).

use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Answer, UsageReport, REQUEST};

/// Longest the client waits to connect, and then for the server's answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer that is read.
const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// Asks the server listening on `path` for every quota's use; or says why not.
pub fn read_usage(path: &Path) -> Result<UsageReport, String> {
    let shown = path.display();
    let mut stream = connect(path).map_err(|e| match e.kind() {
        ErrorKind::PermissionDenied => format!(
            "cannot use the admin socket {shown}: {e} (only the server's user and root may)"
        ),
        ErrorKind::TimedOut => format!(
            "cannot reach a server on the admin socket {shown}: no connection within {} s",
            CLIENT_TIMEOUT.as_secs()
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
    let me = rustix::process::geteuid().as_raw();
    if peer != 0 && peer != me {
        return Err(format!(
            "the process listening on {shown} runs as uid {peer}, neither you (uid {me}) nor \
             root: its counts are not shown, since any user may listen on a socket. Run this \
             command as the server's user (`sudo -u <its user> sentiment-api keys usage \
             --socket {shown}`)"
        ));
    }
    let text = exchange(&mut stream).map_err(|e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
            "no complete answer from the server on the admin socket {shown} within {} s",
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

/// Sends the request and reads the whole answer, all within `CLIENT_TIMEOUT` (not per read: a
/// peer sending a byte now and then must not hold the command for ever).
fn exchange(stream: &mut UnixStream) -> io::Result<String> {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| io::Error::from(ErrorKind::TimedOut))
    };
    stream.set_write_timeout(Some(left()?))?;
    stream.write_all(format!("{REQUEST}\n").as_bytes())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        stream.set_read_timeout(Some(left()?))?;
        match stream.read(&mut buf)? {
            0 => break,
            n => answer.extend_from_slice(&buf[..n]),
        }
        if answer.len() as u64 > MAX_ANSWER_BYTES {
            return Err(io::Error::other("the answer is over 64 MiB"));
        }
    }
    String::from_utf8(answer).map_err(|_| io::Error::other("the answer is not UTF-8"))
}
