//! Start-up: a working default with no set-up, `.env`, and a clear refusal for every bad setting.

use std::net::TcpListener;

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
    let app = server.app();
    let res = app.predict_query("I love it", Some(&key)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.predict_query("I love it", None).await.status(), 401);
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
    let res = server
        .app()
        .predict_query("good", Some("dotenv-key-0123456789"))
        .await;
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

/// Runs `sentiment-api ARGS` in `dir` with `envs`: whether it succeeded, stdout, stderr.
fn command(
    dir: &std::path::PathBuf,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (bool, String, String) {
    let out = crate::helpers::binary(dir, envs)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_prints_the_effective_settings_with_env_and_dotenv_merged_and_secrets_redacted() {
    let dir = temp_dir("config");
    std::fs::write(
        dir.join(".env"),
        "API_SECRET_KEY=config-key-SECRET-0123456789\nRATE_LIMIT_PER_MINUTE=120\n",
    )
    .unwrap();
    let (ok, out, err) = command(&dir, &["config"], &[("MAX_BATCH_SIZE", "32")]);
    assert!(ok, "{err}");
    for line in [
        "API_SECRET_KEY=[REDACTED]",
        "RATE_LIMIT_PER_MINUTE=120",
        "MAX_BATCH_SIZE=32",
        "PORT=0",
        "MAX_TEXT_CHARS=10000",
        "DEFAULT_MODEL=vader",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "{line} missing from:\n{out}"
        );
    }
    assert!(
        !out.contains("config-key") && !err.contains("config-key"),
        "{out}{err}"
    );
}

#[test]
fn config_fails_with_the_line_the_server_would_give() {
    let dir = temp_dir("config-bad");
    for envs in [
        vec![("RATE_LIMIT_BURST", "0")],
        vec![("API_KEYS_FILE", "/no/such/keys.toml")],
        vec![("MODELS", "gpt-9")],
    ] {
        let (ok, out, err) = command(&dir, &["config"], &envs);
        let (status, served) = run_binary_to_exit(&dir, &envs);
        assert!(!ok && !status.success(), "{envs:?}: {out}");
        let line = err.lines().next().unwrap_or_default();
        assert!(
            line.starts_with(&format!("error: {}", envs[0].0)),
            "{envs:?}: {err}"
        );
        assert!(
            served.contains(line),
            "{envs:?}: config said {line:?}, the server said {served}"
        );
    }
}

#[test]
fn version_names_the_version_and_the_features() {
    let (ok, out, _) = command(&temp_dir("version"), &["--version"], &[]);
    assert!(ok);
    assert!(
        out.starts_with(&format!(
            "sentiment-api {} (features: ",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
}

/// `sentiment-api config | head -1`: a reader that goes away early ends the command quietly
/// (exit 0, nothing on stderr), where `println!` would panic on the broken pipe. The read end is
/// closed before the binary writes anything, so every line it writes meets EPIPE.
#[test]
fn a_reader_that_closes_early_ends_the_commands_quietly() {
    use std::process::Stdio;
    let dir = temp_dir("epipe");
    std::fs::write(
        dir.join("keys.toml"),
        crate::keys::entry("a", "sk_epipe-key-0123456789abcdef", ""),
    )
    .unwrap();
    for args in [
        &["config"][..],
        &["keys", "check", "keys.toml"],
        &["keys", "new", "--id", "b"],
    ] {
        let mut child = crate::helpers::binary(&dir, &[])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?}\n{err}", out.status);
        assert!(err.is_empty(), "{args:?} wrote to stderr: {err}");
    }
}
