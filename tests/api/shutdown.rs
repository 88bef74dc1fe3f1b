//! Graceful shutdown of the real binary on a real signal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{raw_request_blocking, wait_until, RunningBinary};

const KEY: &str = "shutdown-key-0123456789";

#[test]
fn a_request_in_flight_at_sigterm_finishes_before_a_clean_exit() {
    for sig in ["-TERM", "-INT"] {
        let mut server = RunningBinary::start(&[("API_SECRET_KEY", KEY)]);
        // A request whose body is still arriving when the signal comes.
        let mut stream = TcpStream::connect(&server.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let body = r#"{"text":"I love it"}"#;
        let head = format!(
            "POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            &body[..5]
        );
        stream.write_all(head.as_bytes()).unwrap();
        // The server has read the head and is waiting for the body.
        wait_until("the request in flight", Duration::from_secs(10), || {
            let metrics = raw_request_blocking(
                &server.address,
                b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            );
            metrics.contains("http_requests_in_flight 1").then_some(())
        });
        server.signal(sig);
        // The signal was taken for a stop...
        server.wait_for_log("finishing requests in flight", Duration::from_secs(10));
        // ...and half a second on, the request in flight still holds the process up.
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            server.try_wait().is_none(),
            "{sig}: exited with a request in flight"
        );
        // New connections are no longer accepted.
        let refused = TcpStream::connect(&server.address)
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")?;
                let mut buf = [0u8; 64];
                s.read(&mut buf)
            })
            .map_or(true, |n| n == 0);
        assert!(refused, "{sig}: a new request was served during shutdown");
        stream.write_all(&body.as_bytes()[5..]).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{sig}: {answer}");
        assert!(answer.contains("\"sentiment\":\"positive\""));
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = server.try_wait() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{sig}: did not exit after the request finished"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{sig}: exit status {status}");
        let log = server.stop();
        assert!(log.contains("finishing requests in flight"), "{log}");
    }
}

/// `GET path` on a fresh connection: the status code, or `None` when nothing answers.
fn status_of(address: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.get(9..12)?.parse().ok()
}

#[test]
fn at_sigterm_readiness_turns_503_at_once_and_the_listener_closes_after_the_delay() {
    let server = RunningBinary::start(&[("API_SECRET_KEY", KEY), ("SHUTDOWN_DELAY_SECONDS", "5")]);
    assert_eq!(status_of(&server.address, "/health/ready"), Some(200));
    server.signal("-TERM");
    let signalled = Instant::now();
    // Draining at once...
    wait_until("readiness to turn 503", Duration::from_secs(5), || {
        (status_of(&server.address, "/health/ready") == Some(503)).then_some(())
    });
    let draining_after = signalled.elapsed();
    // ...while liveness and the API still answer, as a load balancer stops sending traffic.
    assert_eq!(status_of(&server.address, "/health"), Some(200));
    let body = raw_request_blocking(
        &server.address,
        b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(body.ends_with(r#"{"status":"draining"}"#), "{body}");
    // Then the listener closes.
    wait_until("the listener to close", Duration::from_secs(20), || {
        status_of(&server.address, "/health")
            .is_none()
            .then_some(())
    });
    let closed_after = signalled.elapsed();
    assert!(
        closed_after >= Duration::from_secs(5),
        "closed {closed_after:?} after SIGTERM, before the 5 s delay"
    );
    assert!(draining_after < closed_after);
    let log = server.stop();
    let drain = log
        .find("not ready; closing the listener in 5 s")
        .expect("drain line");
    let close = log.find("no new connections").expect("close line");
    assert!(drain < close, "{log}");
}
