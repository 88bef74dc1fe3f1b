//! Start-up: a working default with no set-up, `.env`, and a clear refusal for every bad setting.

use std::net::TcpListener;

use reqwest::Client;

use crate::helpers::{assert_refuses, run_binary_to_exit, temp_dir, RunningBinary};

#[actix_rt::test]
async fn with_no_key_configured_a_generated_key_is_printed_once_and_works() {
    let server = RunningBinary::start(&[]);
    let stdout = server.stdout();
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("sk_"))
        .unwrap_or_else(|| panic!("no key printed: {stdout}"))
        .to_owned();
    assert_eq!(stdout.matches(&key).count(), 1);
    let client = Client::new();
    let url = format!("http://{}/predict?text=I%20love%20it", server.address);
    assert_eq!(
        client
            .post(&url)
            .header("X-API-Key", &key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(client.post(&url).send().await.unwrap().status(), 401);
    let log = server.stop();
    assert!(!log.contains(&key), "the generated key reached the log");
}

#[actix_rt::test]
async fn the_key_is_read_from_a_dotenv_file() {
    let dir = temp_dir("dotenv");
    std::fs::write(dir.join(".env"), "API_SECRET_KEY=dotenv-key-0123456789\n").unwrap();
    let server = RunningBinary::start_in(&dir, &[]);
    assert!(
        !server.stdout().contains("sk_"),
        "a key was generated despite .env"
    );
    let res = Client::new()
        .post(format!("http://{}/predict?text=good", server.address))
        .header("X-API-Key", "dotenv-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[test]
fn a_key_shorter_than_16_characters_stops_the_start() {
    assert_refuses(&[("API_SECRET_KEY", "short-key")], "API_SECRET_KEY");
}

#[test]
fn the_env_example_placeholder_stops_the_start() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    let placeholder = example
        .lines()
        .find_map(|l| l.strip_prefix("API_SECRET_KEY="))
        .expect(".env.example sets API_SECRET_KEY");
    assert_refuses(&[("API_SECRET_KEY", placeholder)], "API_SECRET_KEY");
}

#[test]
fn unparseable_numbers_stop_the_start_naming_their_variable() {
    for (var, value) in [
        ("PORT", "http"),
        ("PORT", "65536"),
        ("WORKERS", "0"),
        ("WORKERS", "two"),
        ("MAX_TEXT_CHARS", "10k"),
        ("MAX_BATCH_SIZE", "-5"),
        ("MAX_BODY_BYTES", "1.5"),
    ] {
        assert_refuses(
            &[("API_SECRET_KEY", "a-long-enough-key-123"), (var, value)],
            var,
        );
    }
}

#[test]
fn a_port_in_use_stops_the_start() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    assert_refuses(
        &[("API_SECRET_KEY", "a-long-enough-key-123"), ("PORT", &port)],
        "PORT",
    );
}

#[test]
fn a_malformed_dotenv_file_stops_the_start_without_showing_the_line() {
    let dir = temp_dir("bad-dotenv");
    std::fs::write(
        dir.join(".env"),
        "PORT=0\nAPI_SECRET_KEY='unterminated-secret-value\n",
    )
    .unwrap();
    let (status, stderr) = run_binary_to_exit(&dir, &[]);
    assert!(!status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(".env") && stderr.contains("line 2 (API_SECRET_KEY)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("unterminated-secret"),
        "the line leaked: {stderr}"
    );
}

#[test]
fn a_dotenv_line_that_is_only_a_pasted_secret_is_not_shown_either() {
    let dir = temp_dir("bad-dotenv-2");
    std::fs::write(
        dir.join(".env"),
        "API_SECRET_KEY=a-long-enough-key-123\nsk_live_SECRETSECRET 0123456789\nZ=a b\n",
    )
    .unwrap();
    let (status, stderr) = run_binary_to_exit(&dir, &[]);
    assert!(!status.success());
    assert!(stderr.contains(".env: line 2 cannot be parsed"), "{stderr}");
    assert!(!stderr.contains("SECRETSECRET"), "{stderr}");
}

#[actix_rt::test]
async fn a_dotenv_file_in_a_parent_directory_is_not_read() {
    let parent = temp_dir("parent-dotenv");
    std::fs::write(
        parent.join(".env"),
        "API_SECRET_KEY=parent-key-0123456789\n",
    )
    .unwrap();
    let child = parent.join("work");
    std::fs::create_dir_all(&child).unwrap();
    let server = RunningBinary::start_in(&child, &[]);
    assert!(
        server.stdout().contains("sk_"),
        "the parent's .env was used"
    );
}

#[test]
fn a_malformed_rust_log_or_a_non_ascii_key_stops_the_start() {
    assert_refuses(
        &[
            ("API_SECRET_KEY", "a-long-enough-key-123"),
            ("RUST_LOG", "info,x=y=z"),
        ],
        "RUST_LOG",
    );
    assert_refuses(&[("API_SECRET_KEY", "ééééééééééééééé€")], "API_SECRET_KEY");
}
