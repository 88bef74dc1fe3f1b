//! Named keys from `API_KEYS_FILE`: hashed at rest, expiry, disabling, reload, and the `keys` commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sentiment_api::auth::hash_key;
use sentiment_api::auth::key_file::hash_hex;
use serde_json::json;

use crate::helpers::{
    error_json, eventually, run_binary_to_exit, status_and_json, temp_dir, write_atomically,
    RunningBinary, TestApp,
};

const ALICE: &str = "sk_alice-key-0123456789abcdef";
const BOB: &str = "sk_bob-key-0123456789abcdef00";
const CAROL: &str = "sk_carol-key-0123456789abcdef";
const OLD: &str = "sk_expired-key-0123456789abcd";
const OFF: &str = "sk_disabled-key-0123456789abc";

/// How long a reload may take to show, on a loaded machine.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(15);

pub fn entry(id: &str, key: &str, extra: &str) -> String {
    format!(
        "[[keys]]\nid = \"{id}\"\nsha256 = \"{}\"\n{extra}\n",
        hash_hex(&hash_key(key.as_bytes()))
    )
}

pub fn keys_file(dir: &Path, entries: &[String]) -> PathBuf {
    let path = dir.join("keys.toml");
    write_atomically(&path, &entries.concat());
    path
}

fn standard_entries() -> Vec<String> {
    vec![
        entry(
            "alice",
            ALICE,
            "owner = \"Alice Liddell\"\nexpires_at = \"2099-01-01T00:00:00Z\"",
        ),
        entry("bob", BOB, ""),
        entry("old", OLD, "expires_at = \"2020-01-01T00:00:00Z\""),
        entry("off", OFF, "enabled = false"),
    ]
}

/// The status `POST /predict?text=good` gets with `key`.
async fn status_with(app: &TestApp, key: &str) -> u16 {
    app.predict_query("good", Some(key)).await.status().as_u16()
}

/// The binary, in a fresh directory, serving a keys file of `entries` with `envs` besides; and
/// the file.
fn serve_keys(name: &str, entries: &[String], envs: &[(&str, &str)]) -> (RunningBinary, PathBuf) {
    let dir = temp_dir(name);
    let file = keys_file(&dir, entries);
    let mut all = vec![("API_KEYS_FILE", file.to_str().unwrap())];
    all.extend_from_slice(envs);
    let server = RunningBinary::start_in(&dir, &all);
    (server, file)
}

#[actix_rt::test]
async fn two_keys_from_a_file_both_work_and_log_their_own_ids() {
    let (server, _) = serve_keys("two-keys", &standard_entries(), &[]);
    let app = server.app();
    assert_eq!(status_with(&app, ALICE).await, 200);
    assert_eq!(status_with(&app, BOB).await, 200);
    let log = server.stop();
    assert!(log.contains("200") && log.contains("key=alice"), "{log}");
    assert!(log.contains("key=bob"), "{log}");
    for key in [ALICE, BOB] {
        assert!(!log.contains(key));
    }
}

#[actix_rt::test]
async fn disabled_expired_and_near_miss_keys_get_the_same_403_and_the_log_says_why() {
    let (server, _) = serve_keys("refused-keys", &standard_entries(), &[]);
    let app = server.app();
    let mut one_off = ALICE.to_owned();
    one_off.replace_range(5..6, "A");
    for key in [
        OLD,
        OFF,
        &ALICE.to_uppercase(),
        &one_off,
        &ALICE[..ALICE.len() - 1],
    ] {
        assert_eq!(
            status_and_json(app.predict_query("good", Some(key)).await).await,
            error_json(403, "Invalid API key"),
            "{key}"
        );
    }
    let log = server.stop();
    assert!(log.contains("expired key (key id old)"), "{log}");
    assert!(log.contains("disabled key (key id off)"), "{log}");
    assert!(log.contains("unknown key (key id -)"), "{log}");
    for key in [OLD, OFF, ALICE] {
        assert!(!log.contains(key));
    }
}

#[actix_rt::test]
async fn me_describes_the_calling_key_only() {
    let (server, _) = serve_keys("me", &standard_entries(), &[]);
    let app = server.app();
    let (status, body) = status_and_json(app.get("/me", Some(ALICE)).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["key_id"], "alice");
    assert_eq!(body["owner"], "Alice Liddell");
    assert_eq!(body["expires_at"], "2099-01-01T00:00:00Z");
    let (_, body) = status_and_json(app.get("/me", Some(BOB)).await).await;
    assert_eq!(body["key_id"], "bob");
    assert_eq!(body["owner"], json!(null));
    assert_eq!(body["expires_at"], json!(null));
    assert_eq!(
        body["scopes"],
        json!(["predict", "jobs"]),
        "no field: every scope"
    );
    assert!(!body.to_string().contains("alice"));
}

#[actix_rt::test]
async fn a_key_outside_its_scopes_gets_403_spends_nothing_and_is_no_failed_key() {
    let entries = [
        entry("dashboard", ALICE, "scopes = [\"jobs\"]"),
        entry("scorer", BOB, "scopes = [\"predict\"]"),
    ];
    let (server, _) = serve_keys("scopes", &entries, &[("AUTH_FAILURES_PER_MINUTE", "3")]);
    let app = server.app();
    // Many more refusals than the failed-key throttle allows: none of them counts as a guess.
    for _ in 0..6 {
        let res = app.predict_query("good", Some(ALICE)).await;
        assert_eq!(crate::helpers::remaining(&res), 60, "no unit spent");
        assert_eq!(
            status_and_json(res).await,
            error_json(403, "Not enough permissions")
        );
    }
    let res = app
        .post_json("/predict/batch", &json!({"texts": ["a"]}), Some(ALICE))
        .await;
    assert_eq!(
        status_and_json(res).await,
        error_json(403, "Not enough permissions")
    );
    // Its own scope works, and its quota is whole: nothing was spent above.
    let res = app
        .post_json("/analyze_batch", &json!({"texts": ["a"]}), Some(ALICE))
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(crate::helpers::remaining(&res), 59);
    let (_, me) = status_and_json(app.get("/me", Some(ALICE)).await).await;
    assert_eq!(me["scopes"], json!(["jobs"]));
    assert_eq!(app.get("/models", Some(ALICE)).await.status(), 200);
    // The other way round.
    assert_eq!(status_with(&app, BOB).await, 200);
    let res = app
        .post_json("/analyze_batch", &json!({"texts": ["a"]}), Some(BOB))
        .await;
    assert_eq!(
        status_and_json(res).await,
        error_json(403, "Not enough permissions")
    );
    let log = server.stop();
    assert!(
        log.contains(
            "not enough permissions: key id dashboard lacks scope predict for POST /predict"
        ),
        "{log}"
    );
    assert!(!log.contains("throttled"), "{log}");
}

#[actix_rt::test]
async fn a_sighup_reload_adds_and_removes_keys_while_clients_keep_getting_answers() {
    let entries = [entry("alice", ALICE, ""), entry("bob", BOB, "")];
    // A long poll interval, so only the signal can cause the reload.
    let (server, file) = serve_keys("sighup", &entries, &[("API_KEYS_POLL_SECONDS", "3600")]);
    let app = server.app();
    assert_eq!(status_with(&app, CAROL).await, 403);

    // Alice stays throughout; bob leaves and carol arrives with the reload.
    write_atomically(
        &file,
        &[entry("alice", ALICE, ""), entry("carol", CAROL, "")].concat(),
    );
    let mut answered = 0;
    let mut signalled = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(
            status_with(&app, ALICE).await,
            200,
            "alice refused mid-reload"
        );
        answered += 1;
        if !signalled && answered == 20 {
            server.hangup();
            signalled = true;
        }
        if signalled && status_with(&app, CAROL).await == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the reload never took effect");
    }
    assert_eq!(status_with(&app, BOB).await, 403);
    assert!(answered >= 20);
    let reloaded = server.wait_for_log("keys reloaded from", RELOAD_TIMEOUT);
    assert!(
        reloaded.contains("(SIGHUP): 2 keys in force, 2 before"),
        "{reloaded}"
    );
    let log = server.stop();
    assert_eq!(log.matches("keys reloaded from").count(), 1, "{log}");
}

#[actix_rt::test]
async fn a_changed_file_is_picked_up_without_a_signal() {
    let (server, file) = serve_keys(
        "poll",
        &[entry("alice", ALICE, "")],
        &[("API_KEYS_POLL_SECONDS", "1")],
    );
    let app = server.app();
    assert_eq!(status_with(&app, BOB).await, 403);
    write_atomically(&file, &[entry("bob", BOB, "")].concat());
    // The poll, not a signal, reloaded it: the log says which.
    let reloaded = server.wait_for_log("keys reloaded from", RELOAD_TIMEOUT);
    assert!(
        reloaded.contains("keys.toml (file changed): 1 keys in force, 1 before"),
        "{reloaded}"
    );
    // The line is written just before the new keys are put in force.
    eventually("bob's key being accepted", RELOAD_TIMEOUT, || async {
        (status_with(&app, BOB).await == 200).then_some(())
    })
    .await;
    assert_eq!(status_with(&app, ALICE).await, 403);
}

#[actix_rt::test]
async fn a_broken_file_on_reload_is_refused_and_the_old_keys_stay() {
    // A long poll interval, so only the signals cause the reloads.
    let (server, file) = serve_keys(
        "broken-reload",
        &[entry("alice", ALICE, "")],
        &[("API_KEYS_POLL_SECONDS", "3600")],
    );
    let app = server.app();
    let cases = [
        ("[[keys]]\nid = \"alice\"\n".to_owned(), "sha256"),
        (String::new(), "holds no keys"),
        ("not toml at all".to_owned(), "not a valid keys file"),
        (
            [entry("x", BOB, ""), entry("x", CAROL, "")].concat(),
            "duplicate id",
        ),
    ];
    for (n, (broken, problem)) in cases.into_iter().enumerate() {
        write_atomically(&file, &broken);
        server.hangup();
        // Each signal gets its own refusal, naming what is wrong with this file.
        let refused = server.wait_for_nth_log("keys file rejected", n + 1, RELOAD_TIMEOUT);
        assert!(
            refused.contains("keeping the 1 keys in force") && refused.contains(problem),
            "{broken:?}: {refused}"
        );
        assert_eq!(status_with(&app, ALICE).await, 200, "{broken:?}");
        assert_eq!(status_with(&app, BOB).await, 403);
    }
    let log = server.stop();
    assert!(!log.contains("keys reloaded from"), "{log}");
}

#[test]
fn every_malformed_keys_file_stops_the_start_with_its_file_entry_and_problem() {
    let hash = hash_hex(&hash_key(ALICE.as_bytes()));
    let cases = [
        ("[[keys]]\nid = \"a\"\n".to_owned(), "sha256"),
        (format!("[[keys]]\nid = \"a\"\nsha256 = \"{hash}\"\n[[keys]]\nid = \"a\"\nsha256 = \"{}\"\n", hash_hex(&hash_key(BOB.as_bytes()))), "duplicate id"),
        (format!("[[keys]]\nid = \"a\"\nsha256 = \"{hash}\"\n[[keys]]\nid = \"b\"\nsha256 = \"{hash}\"\n"), "duplicate sha256"),
        ("[[keys]]\nid = \"a\"\nsha256 = \"xyz\"\n".to_owned(), "64 hexadecimal digits"),
        (format!("[[keys]]\nid = \"a\"\nsha256 = \"{hash}\"\nexpires_at = \"next week\"\n"), "RFC 3339"),
        (format!("[[keys]]\nid = \"a\"\nsha256 = \"{hash}\"\nownr = \"typo\"\n"), "ownr"),
        ("".to_owned(), "holds no keys"),
        ("{{{".to_owned(), "not a valid keys file"),
        (format!("[[keys]]\nid = \"a\"\nsha256 = \"{hash}\"\nrate_limit_per_minute = 5\nrate_limit_burst = 9\n"), "must not exceed"),
    ];
    for (text, problem) in cases {
        let dir = temp_dir("bad-keys");
        let path = dir.join("keys.toml");
        std::fs::write(&path, &text).unwrap();
        let (status, stderr) =
            run_binary_to_exit(&dir, &[("API_KEYS_FILE", path.to_str().unwrap())]);
        assert!(!status.success(), "{text:?} started");
        let line = stderr.trim();
        assert_eq!(line.lines().count(), 1, "{stderr}");
        assert!(
            line.contains("API_KEYS_FILE") && line.contains("keys.toml"),
            "{line}"
        );
        assert!(
            line.contains(problem),
            "{line:?} should mention {problem:?}"
        );
    }
    let (status, stderr) = run_binary_to_exit(
        &temp_dir("no-file"),
        &[("API_KEYS_FILE", "/no/such/keys.toml")],
    );
    assert!(!status.success());
    assert!(
        stderr.contains("/no/such/keys.toml") && stderr.contains("cannot read"),
        "{stderr}"
    );
}

#[test]
fn a_key_id_clashing_with_api_secret_key_stops_the_start() {
    let dir = temp_dir("clash");
    let file = keys_file(&dir, &[entry("default", ALICE, "")]);
    let (status, stderr) = run_binary_to_exit(
        &dir,
        &[
            ("API_KEYS_FILE", file.to_str().unwrap()),
            ("API_SECRET_KEY", BOB),
        ],
    );
    assert!(!status.success());
    assert!(stderr.contains("duplicate id \"default\""), "{stderr}");
    // `config` checks the keys as a start does, and gives the same line.
    let out = crate::helpers::binary(
        &dir,
        &[
            ("API_KEYS_FILE", file.to_str().unwrap()),
            ("API_SECRET_KEY", BOB),
        ],
    )
    .arg("config")
    .output()
    .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.lines().next(), stderr.lines().last(), "{said}");
}

fn keys_command(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentiment-api"))
        .arg("keys")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn keys_new_writes_scopes_and_keys_check_shows_them() {
    let (ok, out, err) = keys_command(&["new", "--id", "dash", "--scope", "jobs"], "");
    assert!(ok, "{err}");
    assert!(out.contains("scopes = [\"jobs\"]"), "{out}");
    let (ok, _, err) = keys_command(&["new", "--id", "dash", "--scope", "admin"], "");
    assert!(!ok);
    assert!(err.contains("--scope \"admin\" is not a scope"), "{err}");
    let dir = temp_dir("scopes-check");
    let file = keys_file(
        &dir,
        &[
            entry("dash", ALICE, "scopes = [\"jobs\"]"),
            entry("all", BOB, ""),
        ],
    );
    let (ok, out, err) = keys_command(&["check", file.to_str().unwrap()], "");
    assert!(ok, "{err}");
    let line = |id: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap()
            .to_owned()
    };
    assert!(line("dash").contains("scopes jobs"), "{out}");
    assert!(line("all").contains("scopes all"), "{out}");
}

#[actix_rt::test]
async fn keys_new_output_pasted_into_a_file_authenticates() {
    let (ok, out, err) = keys_command(
        &[
            "new",
            "--id",
            "dana",
            "--owner",
            "Dana \"D\" Scully",
            "--expires",
            "2099-12-31T23:59:59Z",
        ],
        "",
    );
    assert!(ok, "{err}");
    let key = out
        .split_whitespace()
        .find(|w| w.starts_with("sk_"))
        .expect("the key is printed")
        .to_owned();
    assert!(key.len() >= 3 + 43, "at least 256 bits: {key}");
    let entry_text = &out[out.find("[[keys]]").expect("an entry is printed")..];
    assert!(
        !entry_text.contains(&key),
        "the entry must hold the hash, not the key"
    );

    let dir = temp_dir("keys-new");
    let file = dir.join("keys.toml");
    std::fs::write(&file, entry_text).unwrap();
    let server = RunningBinary::start_in(&dir, &[("API_KEYS_FILE", file.to_str().unwrap())]);
    let app = server.app();
    assert_eq!(status_with(&app, &key).await, 200);
    let (_, me) = status_and_json(app.get("/me", Some(&key)).await).await;
    assert_eq!(me["key_id"], "dana");
    assert_eq!(me["owner"], "Dana \"D\" Scully");
    assert_eq!(me["expires_at"], "2099-12-31T23:59:59Z");
    assert_eq!(me["rate_limit"]["limit"], 60, "the default policy applies");
    let log = server.stop();
    assert!(!log.contains(&key));
}

#[test]
fn keys_new_refuses_a_bad_id_or_date() {
    for args in [
        &["new", "--id", "has space"][..],
        &["new", "--id", "ok", "--expires", "soon"][..],
    ] {
        let (ok, out, err) = keys_command(args, "");
        assert!(!ok, "{args:?}");
        assert!(!out.contains("sk_"), "no key may be printed on failure");
        assert!(err.starts_with("error:"), "{err}");
    }
}

#[test]
fn keys_hash_reads_the_key_on_stdin_and_prints_its_entry() {
    let (ok, out, err) = keys_command(&["hash", "--id", "ext"], &format!("{ALICE}\n"));
    assert!(ok, "{err}");
    assert!(
        out.contains(&hash_hex(&hash_key(ALICE.as_bytes()))),
        "{out}"
    );
    assert!(out.contains("id = \"ext\""));
    assert!(!out.contains(ALICE));
    let (ok, _, err) = keys_command(&["hash", "--id", "ext"], "short\n");
    assert!(!ok);
    assert!(err.contains("16"), "{err}");
}

#[test]
fn keys_check_lists_ids_states_and_expiry_without_secrets() {
    let dir = temp_dir("check");
    let file = keys_file(&dir, &standard_entries());
    let (ok, out, err) = keys_command(&["check", file.to_str().unwrap()], "");
    assert!(ok, "{err}");
    assert!(out.contains("4 keys"), "{out}");
    let state_of = |id: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("{id} not listed: {out}"))
            .to_owned()
    };
    assert!(state_of("alice").contains("active") && state_of("alice").contains("2099-01-01"));
    assert!(state_of("old").contains("expired"));
    assert!(state_of("off").contains("disabled"));
    assert!(!out.contains(&hash_hex(&hash_key(ALICE.as_bytes()))));

    std::fs::write(dir.join("bad.toml"), "[[keys]]\nid = 1\n").unwrap();
    let (ok, _, err) = keys_command(&["check", dir.join("bad.toml").to_str().unwrap()], "");
    assert!(!ok);
    assert!(err.contains("bad.toml"), "{err}");
}
