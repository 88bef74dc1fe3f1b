//! Day and month quotas on keys and owners (issue 28), with the wall clock injected: the last unit
//! of a period and the first of the next, owners' keys sharing one quota under concurrency, a
//! batch costing its size, `/me`'s usage, and keys without a quota answered exactly as before.

use std::sync::Arc;

use futures_util::future::join_all;
use reqwest::Response;
use sentiment_api::clock::ManualWallClock;
use sentiment_api::model::Vader;
use sentiment_api::testing::{TestKey, TestServer};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::helpers::{
    error_json, retry_after, spawn_app_with, status_and_json, test_settings, TestApp,
};

const KEY: &str = "sk_quota-key-0123456789abcdef";
const ACME_1: &str = "sk_acme-one-0123456789abcdef";
const ACME_2: &str = "sk_acme-two-0123456789abcdef";
const ACME_3: &str = "sk_acme-three-0123456789abcd";

fn at(rfc3339: &str) -> OffsetDateTime {
    OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap()
}

fn header(res: &Response, name: &str) -> String {
    res.headers()[name].to_str().unwrap().to_owned()
}

async fn start(server: sentiment_api::testing::TestServerBuilder) -> TestApp {
    TestApp::of(server.start().await.expect("test server starts"))
}

async fn predict(app: &TestApp, key: &str) -> Response {
    app.predict_query("good", Some(key)).await
}

#[actix_rt::test]
async fn the_last_unit_of_the_day_is_served_and_the_next_day_starts_from_zero() {
    let clock = ManualWallClock::at(at("2026-03-14T23:59:00Z"));
    let app = start(
        TestServer::builder()
            .key(TestKey::new("q").secret(KEY).quota(Some(3), None))
            .wall_clock(clock.clone()),
    )
    .await;
    for left in [2, 1, 0] {
        let res = predict(&app, KEY).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            header(&res, "ratelimit-policy"),
            "\"default\";q=60;w=60, \"day\";q=3;w=86400"
        );
        assert_eq!(
            header(&res, "ratelimit"),
            format!("\"default\";r={};t=1, \"day\";r={left};t=60", 57 + left)
        );
    }
    let res = predict(&app, KEY).await;
    assert_eq!(retry_after(&res), 60, "until midnight UTC");
    assert!(header(&res, "ratelimit").ends_with("\"day\";r=0;t=60"));
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Quota exceeded")
    );
    // A spent quota is answered before the input is looked at, as the rate limit is.
    let res = app
        .post_bytes("/predict", Some("text/plain"), "hi", Some(KEY))
        .await;
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Quota exceeded")
    );
    clock.set(at("2026-03-14T23:59:59.500Z"));
    let res = predict(&app, KEY).await;
    assert_eq!((res.status().as_u16(), retry_after(&res)), (429, 1));
    clock.set(at("2026-03-15T00:00:00Z"));
    let res = predict(&app, KEY).await;
    assert_eq!(res.status(), 200, "a new day");
    assert!(header(&res, "ratelimit").ends_with("\"day\";r=2;t=86400"));
}

#[actix_rt::test]
async fn a_spent_month_waits_for_the_next_month_and_december_rolls_into_january() {
    let clock = ManualWallClock::at(at("2026-12-31T23:00:00Z"));
    let app = start(
        TestServer::builder()
            .key(TestKey::new("q").secret(KEY).quota(Some(10), Some(2)))
            .wall_clock(clock.clone()),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(predict(&app, KEY).await.status(), 200);
    }
    let res = predict(&app, KEY).await;
    assert_eq!(
        header(&res, "ratelimit-policy"),
        "\"default\";q=60;w=60, \"day\";q=10;w=86400, \"month\";q=2;w=2678400"
    );
    assert_eq!((res.status().as_u16(), retry_after(&res)), (429, 3600));
    clock.set(at("2027-01-01T00:00:00Z"));
    let res = predict(&app, KEY).await;
    assert_eq!(res.status(), 200, "January");
    assert!(
        header(&res, "ratelimit-policy").ends_with("\"month\";q=2;w=2678400"),
        "January has 31 days too"
    );
}

#[actix_rt::test]
async fn an_owners_keys_racing_get_exactly_the_owners_quota_between_them() {
    let clock = ManualWallClock::at(at("2026-06-10T12:00:00Z"));
    let keys = [("one", ACME_1), ("two", ACME_2), ("three", ACME_3)];
    let builder = keys.iter().fold(
        TestServer::builder()
            .no_rate_limit()
            .owner_quota("acme", Some(20), None)
            .wall_clock(clock.clone())
            .configure(|s| s.listen.workers = 4),
        |b, (id, key)| b.key(TestKey::new(*id).secret(*key).owner("acme")),
    );
    let app = start(builder).await;
    let requests = (0..90).map(|i| {
        let app = &app;
        async move {
            let res = predict(app, keys[i % 3].1).await;
            status_and_json(res).await
        }
    });
    let answers = join_all(requests).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let refused = answers
        .iter()
        .filter(|a| **a == error_json(429, "Quota exceeded"))
        .count();
    assert_eq!((ok, refused), (20, 70), "{answers:?}");
    // The owner's count is the keys' sum; the keys have no quota of their own.
    let me = status_and_json(app.get("/me", Some(ACME_2)).await).await.1;
    assert_eq!(
        me["quota"],
        json!({"owner": {"day": {"limit": 20, "used": 20, "remaining": 0, "reset_seconds": 43200}}})
    );
}

#[actix_rt::test]
async fn a_batch_costs_its_size_and_one_that_does_not_fit_spends_none_of_the_quota() {
    let clock = ManualWallClock::at(at("2026-06-10T12:00:00Z"));
    let app = start(
        TestServer::builder()
            .key(TestKey::new("q").secret(KEY).quota(Some(5), None))
            .wall_clock(clock.clone()),
    )
    .await;
    let batch = json!({"texts": ["good", "bad", "fine"]});
    let res = app.post_json("/predict/batch", &batch, Some(KEY)).await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "ratelimit").ends_with("\"day\";r=2;t=43200"));
    let res = app.post_json("/predict/batch", &batch, Some(KEY)).await;
    assert!(header(&res, "ratelimit").ends_with("\"day\";r=2;t=43200"));
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Quota exceeded")
    );
    let me = status_and_json(app.get("/me", Some(KEY)).await).await.1;
    assert_eq!(me["quota"]["key"]["day"]["used"], 3, "{me}");
    assert_eq!(predict(&app, KEY).await.status(), 200);
    assert_eq!(predict(&app, KEY).await.status(), 200);
    assert_eq!(predict(&app, KEY).await.status(), 429);
}

#[actix_rt::test]
async fn a_batch_refused_by_its_quota_spends_no_more_of_the_rate_limit_than_its_arrival_unit() {
    let clock = ManualWallClock::at(at("2026-06-10T12:00:00Z"));
    let app = start(
        TestServer::builder()
            .key(
                TestKey::new("q")
                    .secret(KEY)
                    .rate_limit(20, 20)
                    .quota(Some(15), None),
            )
            .wall_clock(clock.clone()),
    )
    .await;
    let batch = json!({"texts": vec!["good"; 10]});
    let res = app.post_json("/predict/batch", &batch, Some(KEY)).await;
    assert_eq!(res.status(), 200);
    let res = app.post_json("/predict/batch", &batch, Some(KEY)).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Quota exceeded")
    );
    // 10 left after the first batch; the refused one may keep its arrival unit, not all ten (a
    // unit comes back every 3 s: the bound holds however slow the machine is).
    let me = status_and_json(app.get("/me", Some(KEY)).await).await.1;
    let remaining = me["rate_limit"]["remaining"].as_u64().unwrap();
    assert!(remaining >= 9, "{me}");
    assert_eq!(me["quota"]["key"]["day"]["used"], 10, "{me}");
}

#[actix_rt::test]
async fn one_keys_refused_batches_leave_its_owners_last_units_to_the_other_keys() {
    let clock = ManualWallClock::at(at("2026-06-10T12:00:00Z"));
    let app = start(
        TestServer::builder()
            .no_rate_limit()
            .key(TestKey::new("one").secret(ACME_1).owner("acme"))
            .key(TestKey::new("two").secret(ACME_2).owner("acme"))
            .owner_quota("acme", Some(4), None)
            .wall_clock(clock.clone()),
    )
    .await;
    let batch = json!({"texts": vec!["good"; 5]});
    for _ in 0..4 {
        let res = app.post_json("/predict/batch", &batch, Some(ACME_1)).await;
        assert_eq!(
            status_and_json(res).await,
            error_json(429, "Quota exceeded")
        );
    }
    for _ in 0..4 {
        assert_eq!(predict(&app, ACME_2).await.status(), 200);
    }
    assert_eq!(predict(&app, ACME_2).await.status(), 429);
}

#[actix_rt::test]
async fn me_shows_the_keys_and_the_owners_usage_without_spending_any() {
    let clock = ManualWallClock::at(at("2028-02-29T18:00:00Z"));
    let app = start(
        TestServer::builder()
            .key(
                TestKey::new("q")
                    .secret(KEY)
                    .owner("acme")
                    .quota(Some(100), None),
            )
            .owner_quota("acme", Some(1000), Some(5000))
            .wall_clock(clock.clone()),
    )
    .await;
    assert_eq!(predict(&app, KEY).await.status(), 200);
    for _ in 0..2 {
        let res = app.get("/me", Some(KEY)).await;
        assert!(
            header(&res, "ratelimit-policy").ends_with(
                "\"day\";q=100;w=86400, \"owner-day\";q=1000;w=86400, \"owner-month\";q=5000;w=2505600"
            ),
            "leap February: 29 days"
        );
        let me = status_and_json(res).await.1;
        assert_eq!(
            me["quota"],
            json!({
                "key": {"day": {"limit": 100, "used": 1, "remaining": 99, "reset_seconds": 21600}},
                "owner": {
                    "day": {"limit": 1000, "used": 1, "remaining": 999, "reset_seconds": 21600},
                    "month": {"limit": 5000, "used": 1, "remaining": 4999, "reset_seconds": 21600}
                }
            })
        );
    }
}

#[actix_rt::test]
async fn a_key_without_a_quota_answers_exactly_as_before() {
    let app = spawn_app_with(test_settings(), Arc::new(Vader::new())).await;
    let res = predict(&app, crate::helpers::TEST_KEY).await;
    assert_eq!(header(&res, "ratelimit-policy"), "\"default\";q=60;w=60");
    assert_eq!(header(&res, "ratelimit"), "\"default\";r=59;t=1");
    let me: Value = status_and_json(app.get("/me", Some(crate::helpers::TEST_KEY)).await)
        .await
        .1;
    let fields: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        ["key_id", "owner", "expires_at", "scopes", "rate_limit"],
        "no quota field"
    );
}

/// The day's count of `key` as `/me` shows it: (limit, used) of the owner's day quota.
async fn owner_day(app: &TestApp, key: &str) -> (u64, u64) {
    let me = status_and_json(app.get("/me", Some(key)).await).await.1;
    let day = &me["quota"]["owner"]["day"];
    (
        day["limit"].as_u64().unwrap(),
        day["used"].as_u64().unwrap(),
    )
}

#[actix_rt::test]
async fn a_reload_raises_and_lowers_an_owners_quota_and_the_count_carries_on() {
    use crate::helpers::{eventually, temp_dir, write_atomically, RunningBinary};
    use crate::keys::{entry, keys_file};
    use std::time::Duration;

    let file_with = |per_day: u64| {
        [
            entry("one", ACME_1, "owner = \"acme\""),
            entry("two", ACME_2, "owner = \"acme\""),
            format!("[owners.acme]\nquota = {{ per_day = {per_day} }}\n"),
        ]
        .concat()
    };
    let dir = temp_dir("quota-reload");
    let file = keys_file(&dir, &[file_with(2)]);
    // A long poll interval, so only the signals cause the reloads.
    let server = RunningBinary::start_in(
        &dir,
        &[
            ("API_KEYS_FILE", file.to_str().unwrap()),
            ("API_KEYS_POLL_SECONDS", "3600"),
        ],
    );
    let app = server.app();
    assert_eq!(predict(&app, ACME_1).await.status(), 200);
    assert_eq!(predict(&app, ACME_2).await.status(), 200);
    assert_eq!(predict(&app, ACME_1).await.status(), 429);
    let reload = |per_day: u64, n: usize| {
        write_atomically(&file, &file_with(per_day));
        server.hangup();
        server.wait_for_nth_log("keys reloaded from", n, Duration::from_secs(15));
    };
    reload(5, 1);
    eventually("the raised quota", Duration::from_secs(15), || async {
        (owner_day(&app, ACME_1).await == (5, 2)).then_some(())
    })
    .await;
    assert_eq!(predict(&app, ACME_2).await.status(), 200, "3 of 5");
    reload(3, 2);
    eventually("the lowered quota", Duration::from_secs(15), || async {
        (owner_day(&app, ACME_2).await == (3, 3)).then_some(())
    })
    .await;
    let res = predict(&app, ACME_1).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(429, "Quota exceeded")
    );
    server.stop();
}

#[actix_rt::test]
async fn deleting_an_owners_last_key_revokes_it_though_the_owners_table_stays() {
    use crate::helpers::{temp_dir, write_atomically, RunningBinary};
    use crate::keys::{entry, keys_file};
    use std::time::Duration;

    let owners = "[owners.acme]\nquota = { per_day = 100 }\n";
    let dir = temp_dir("quota-revoke-last");
    let file = keys_file(
        &dir,
        &[
            entry("plain", KEY, ""),
            entry("one", ACME_1, "owner = \"acme\""),
            owners.to_owned(),
        ],
    );
    let server = RunningBinary::start_in(
        &dir,
        &[
            ("API_KEYS_FILE", file.to_str().unwrap()),
            ("API_KEYS_POLL_SECONDS", "3600"),
        ],
    );
    let app = server.app();
    assert_eq!(predict(&app, ACME_1).await.status(), 200);
    // The operator deletes the compromised key and leaves the owner's table for its next key.
    write_atomically(
        &file,
        &[entry("plain", KEY, ""), owners.to_owned()].concat(),
    );
    server.hangup();
    server.wait_for_nth_log("keys reloaded from", 1, Duration::from_secs(15));
    let res = predict(&app, ACME_1).await;
    assert_eq!(
        status_and_json(res).await,
        error_json(403, "Invalid API key")
    );
    assert_eq!(predict(&app, KEY).await.status(), 200);
    server.wait_for_nth_log(
        "owners.\"acme\": no key has owner",
        1,
        Duration::from_secs(5),
    );
    server.stop();
}

#[test]
fn keys_usage_without_redis_says_where_usage_can_be_read_instead() {
    use crate::helpers::{binary, temp_dir};
    use crate::keys::{entry, keys_file};

    let dir = temp_dir("quota-usage-no-redis");
    let file = keys_file(&dir, &[entry("one", ACME_1, "quota = { per_day = 5 }")]);
    let out = binary(&dir, &[])
        .args(["keys", "usage", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("neither REDIS_URL nor ADMIN_SOCKET is set") && err.contains("GET /me"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let none = keys_file(&dir, &[entry("one", ACME_1, "")]);
    let out = binary(&dir, &[])
        .args(["keys", "usage", none.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no key or owner has a quota"));
}

#[actix_rt::test]
async fn keys_usage_reads_a_running_servers_counts_on_its_admin_socket() {
    use std::os::unix::fs::PermissionsExt;

    use std::time::Duration;

    use crate::helpers::{binary, temp_dir, usage_line, wait_until, RunningBinary};
    use crate::keys::{entry, keys_file};

    let dir = temp_dir("quota-usage-socket");
    let file = keys_file(
        &dir,
        &[
            entry("one", ACME_1, "owner = \"acme\"\nquota = { per_day = 5 }"),
            entry("two", ACME_2, "owner = \"acme\""),
            entry("plain", KEY, ""),
            "[owners.acme]\nquota = { per_month = 100 }\n".to_owned(),
        ],
    );
    let socket = dir.join("admin.sock");
    // A socket left behind by a server that is gone is replaced.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let socket_path = socket.to_str().unwrap();
    let envs = [
        ("API_KEYS_FILE", file.to_str().unwrap()),
        ("ADMIN_SOCKET", socket_path),
    ];
    let server = RunningBinary::start_in(&dir, &envs);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the server's user may connect");
    let app = server.app();
    for key in [ACME_1, ACME_1, ACME_2, KEY] {
        assert_eq!(predict(&app, key).await.status(), 200);
    }
    // As an operator on the machine runs it: ADMIN_SOCKET from the environment, or --socket.
    let from_env = binary(&dir, &envs[1..]).args(["keys", "usage"]).output();
    // With --socket, no other setting is read: a bad one does not stand in the way.
    let from_flag = binary(&dir, &[("PORT", "not-a-port")])
        .args(["keys", "usage", "--socket", socket_path])
        .output();
    for out in [from_env.unwrap(), from_flag.unwrap()] {
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(text.contains("counted in the server's memory"), "{text}");
        let line = |kind, name, period| usage_line(&text, kind, name, period);
        assert_eq!(
            line("key", "one", "day").as_deref(),
            Some("2 of 5"),
            "{text}"
        );
        assert_eq!(
            line("owner", "acme", "month").as_deref(),
            Some("3 of 100"),
            "{text}"
        );
        assert_eq!(
            line("key", "two", "day"),
            None,
            "no quota of its own: {text}"
        );
        assert!(!text.contains("plain"), "{text}");
        assert!(
            !text.contains(ACME_1) && !err.contains(ACME_1),
            "never a key"
        );
    }
    // The server reads its own keys file: one given beside --socket would be ignored, so it is
    // refused.
    let out = binary(&dir, &[])
        .args([
            "keys",
            "usage",
            file.to_str().unwrap(),
            "--socket",
            socket_path,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot be used with"), "{err}");
    // A peer that asks for something else gets an error, and the socket still answers.
    let mut raw = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    std::io::Write::write_all(&mut raw, b"keys\n").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut raw, &mut answer).unwrap();
    assert!(
        answer.starts_with("{\"error\":\"unknown request"),
        "{answer}"
    );
    assert_eq!(predict(&app, ACME_1).await.status(), 200);
    // Twenty peers that connect and say nothing (a stuck monitoring job) do not keep the
    // operator waiting: peers are served side by side, each silent one given 2 s.
    let silent: Vec<_> = (0..20)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).unwrap())
        .collect();
    let out = binary(&dir, &envs[1..])
        .args(["keys", "usage"])
        .output()
        .unwrap();
    drop(silent);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        usage_line(&text, "key", "one", "day").as_deref(),
        Some("3 of 5"),
        "{text}"
    );
    let mut server = server;
    server.signal("-TERM");
    wait_until("the binary exits", Duration::from_secs(30), || {
        server.try_wait()
    });
    assert!(!socket.exists(), "the socket file goes with the server");
    let out = binary(&dir, &[])
        .args(["keys", "usage", "--socket", socket_path])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot reach a server on the admin socket"),
        "{err}"
    );
}

#[actix_rt::test]
async fn owners_usage_reaches_metrics_only_when_asked_for_and_bounded() {
    let builder = |max: usize| {
        TestServer::builder()
            .key(TestKey::new("one").secret(ACME_1).owner("acme"))
            .key(TestKey::new("two").secret(ACME_2).owner("beta"))
            .owner_quota("acme", Some(100), None)
            .owner_quota("beta", None, Some(100))
            .configure(move |s| s.limits.quota_owner_metrics = max)
    };
    let off = start(builder(0)).await;
    assert_eq!(predict(&off, ACME_1).await.status(), 200);
    let text = off.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains("quota_owner_units_total"), "off by default");

    let one = start(builder(1)).await;
    for key in [ACME_1, ACME_1, ACME_2] {
        assert_eq!(predict(&one, key).await.status(), 200);
    }
    let text = one.get("/metrics", None).await.text().await.unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("quota_owner_units_total{"))
        .collect();
    assert_eq!(
        series,
        [
            "quota_owner_units_total{owner=\"_other\"} 1",
            "quota_owner_units_total{owner=\"acme\"} 2"
        ],
        "one owner labelled, the rest as _other; no key id"
    );
}

/// A batch whose arrival unit is spent on one day and refused on the next gives its unit back to
/// the next day's counter, which never had it: one unit minted per such batch.
#[actix_rt::test]
async fn a_batch_refused_after_midnight_gives_back_no_unit_of_the_new_day() {
    use std::io::{Read, Write};
    let clock = ManualWallClock::at(at("2026-03-14T23:59:59Z"));
    let app = start(
        TestServer::builder()
            .key(TestKey::new("q").secret(KEY).quota(Some(5), None))
            .wall_clock(clock.clone()),
    )
    .await;
    let body = json!({"texts": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]}).to_string();
    let host = app.url("").trim_start_matches("http://").to_owned();
    let mut tcp = std::net::TcpStream::connect(&host).unwrap();
    // The headers at 23:59:59 (the arrival unit is spent on the 14th), the body after midnight.
    write!(
        tcp,
        "POST /predict/batch HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    crate::helpers::eventually(
        "the arrival unit",
        std::time::Duration::from_secs(5),
        || async {
            let me = status_and_json(app.get("/me", Some(KEY)).await).await.1;
            (me["quota"]["key"]["day"]["used"] == 1).then_some(())
        },
    )
    .await;
    clock.set(at("2026-03-15T00:00:01Z"));
    for _ in 0..5 {
        assert_eq!(predict(&app, KEY).await.status(), 200, "the 15th's 5 units");
    }
    tcp.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let res = predict(&app, KEY).await;
    assert_eq!(
        res.status(),
        429,
        "a sixth unit on the 15th, quota 5: {}",
        header(&res, "ratelimit")
    );
}

/// Every authenticated answer to a key with a quota lists it in the `RateLimit` headers, as
/// `/me` and the metered routes do: a free route's answer (`/models`, a job poll), a scope's 403
/// and the rate limit's 429 must not drop the policy, and they show the units left.
#[actix_rt::test]
async fn a_free_routes_answer_lists_the_keys_quota_as_the_metered_ones_do() {
    use sentiment_api::paths::Scope;
    const READER: &str = "sk_quota-reader-0123456789abcd";
    let clock = ManualWallClock::at(at("2026-06-10T12:00:00Z"));
    let app = start(
        TestServer::builder()
            .key(
                TestKey::new("q")
                    .secret(KEY)
                    .quota(Some(5), None)
                    .rate_limit(3, 3),
            )
            .key(
                TestKey::new("r")
                    .secret(READER)
                    .quota(Some(5), None)
                    .rate_limit(3, 3)
                    .scopes([Scope::Predict]),
            )
            .wall_clock(clock.clone()),
    )
    .await;
    let me = app.get("/me", Some(KEY)).await;
    let models = app.get("/models", Some(KEY)).await;
    assert_eq!(
        header(&models, "ratelimit-policy"),
        header(&me, "ratelimit-policy")
    );
    assert_eq!(predict(&app, KEY).await.status(), 200);
    assert_eq!(predict(&app, KEY).await.status(), 200);
    let job = app
        .get("/jobs/6f1c7e0a-0000-4000-8000-000000000000", Some(KEY))
        .await;
    assert_eq!(job.status(), 404);
    assert_eq!(predict(&app, KEY).await.status(), 200);
    let limited = predict(&app, KEY).await;
    assert_eq!(limited.status(), 429, "the rate limit's 3");
    let forbidden = app
        .get("/jobs/6f1c7e0a-0000-4000-8000-000000000000", Some(READER))
        .await;
    assert_eq!(forbidden.status(), 403);
    for (what, res, day) in [
        ("a job poll", &job, "\"day\";r=3"),
        ("a rate limit's 429", &limited, "\"day\";r=2"),
        ("a scope's 403", &forbidden, "\"day\";r=5"),
    ] {
        assert_eq!(
            header(res, "ratelimit-policy"),
            header(&me, "ratelimit-policy"),
            "{what}"
        );
        assert!(
            header(res, "ratelimit").contains(day),
            "{what}: {}",
            header(res, "ratelimit")
        );
    }
}

/// Run as root (as CI runs; skipped otherwise), with a copy of the binary that other users may
/// execute: the server refuses a user who is neither its own nor root, in words that reach that
/// user; it will not bind in a directory others may write; and `keys usage` believes only a
/// listener run by root or by its own user.
#[actix_rt::test]
async fn admin_socket_peers_and_listeners_are_checked_both_ways() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    use crate::helpers::{binary, binary_at, run_to_exit, temp_dir, usage_line, RunningBinary};
    use crate::keys::{entry, keys_file};

    const NOBODY: u32 = 65534;
    if rustix::process::geteuid().as_raw() != 0 {
        // Only root can run processes as other users; `.ci/run` runs as root.
        eprintln!("skipped: switching users needs root (CI runs this test as root)");
        return;
    }
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let dir = temp_dir("admin-socket-users");
    mode(&dir, 0o755);
    let program = dir.join("sentiment-api");
    std::fs::copy(env!("CARGO_BIN_EXE_sentiment-api"), &program).unwrap();
    mode(&program, 0o755);
    let as_nobody = |mut cmd: std::process::Command| {
        cmd.uid(NOBODY).gid(NOBODY);
        cmd
    };
    let keys = |dir: &std::path::Path| {
        let file = keys_file(dir, &[entry("one", ACME_1, "quota = { per_day = 5 }")]);
        std::os::unix::fs::chown(&file, Some(NOBODY), Some(NOBODY)).unwrap();
        file
    };

    // A root server whose socket an operator opened to everyone by mistake: nobody gets the
    // server's refusal, not a reset connection.
    let file = keys(&dir);
    let socket = dir.join("admin.sock");
    let envs = [
        ("API_KEYS_FILE", file.to_str().unwrap()),
        ("ADMIN_SOCKET", socket.to_str().unwrap()),
    ];
    let server = RunningBinary::start_in(&dir, &envs);
    mode(&socket, 0o777);
    let out = as_nobody(binary_at(&program, &dir, &[]))
        .args(["keys", "usage", "--socket", socket.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("answered: only root may ask"), "{err}");
    server.wait_for_log(
        "refused a peer of uid 65534",
        std::time::Duration::from_secs(10),
    );
    drop(server);

    // The same server run by another user (uid 65534). It will not bind in a directory everyone
    // may write (as /tmp).
    let shared = dir.join("shared");
    let private = dir.join("private");
    for (place, owner, dir_mode) in [(&shared, 0, 0o1777), (&private, NOBODY, 0o700)] {
        std::fs::create_dir(place).unwrap();
        std::os::unix::fs::chown(place, Some(owner), Some(owner)).unwrap();
        mode(place, dir_mode);
    }
    let file = keys(&dir);
    let in_shared = shared.join("admin.sock");
    let envs = [
        ("API_KEYS_FILE", file.to_str().unwrap()),
        ("ADMIN_SOCKET", in_shared.to_str().unwrap()),
    ];
    let (status, err) = run_to_exit(as_nobody(binary_at(&program, &dir, &envs)));
    assert!(!status.success());
    assert!(
        err.contains("ADMIN_SOCKET") && err.contains("may be written by other users"),
        "{err}"
    );
    // In a directory of its own it starts; root's `keys usage` does not believe it (any user
    // may listen on a socket), while its own user's does.
    let socket = private.join("admin.sock");
    let envs = [
        ("API_KEYS_FILE", file.to_str().unwrap()),
        ("ADMIN_SOCKET", socket.to_str().unwrap()),
    ];
    let _server = RunningBinary::spawn(as_nobody(binary_at(&program, &dir, &envs)));
    let args = ["keys", "usage", "--socket", socket.to_str().unwrap()];
    // Run as `sudo -u` runs it, in a directory whose `.env` only root may read: with --socket
    // no `.env` is read.
    let dotenv = dir.join(".env");
    std::fs::write(&dotenv, "LOG_FORMAT=text\n").unwrap();
    mode(&dotenv, 0o600);
    for (cmd, believed) in [
        (binary(&dir, &[]), false),
        (as_nobody(binary_at(&program, &dir, &[])), true),
    ] {
        let out = { cmd }.args(args).output().unwrap();
        let (text, err) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let line = usage_line(&text, "key", "one", "day");
        if believed {
            assert!(out.status.success(), "{err}");
            assert_eq!(line.as_deref(), Some("0 of 5"), "{text}");
        } else {
            assert!(!out.status.success());
            assert!(err.contains("runs as uid 65534"), "{err}");
            assert!(err.contains("sudo -u"), "says how to read it: {err}");
            assert_eq!(line, None, "no count shown: {text}");
        }
    }
}
