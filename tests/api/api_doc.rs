//! `docs/api.md`, the contract, against `/openapi.json`: every documented route and status is in it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;

/// The keys of an OpenAPI path item that are operations (the rest are `summary`, `parameters`...).
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Whether `needle` occurs in `haystack` with neither end running on into more of the same kind
/// of text: `POST /predict` is not found inside `POST /predict/batch`, nor `500` inside `5000`.
fn mentions(haystack: &str, needle: &str, continues: impl Fn(char) -> bool) -> bool {
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(&continues) && !after.is_some_and(&continues)
    })
}

fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-/{}".contains(c)
}

#[actix_rt::test]
async fn api_md_lists_every_documented_route_and_status() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json", None).await;
    assert_eq!(res.status(), 200, "GET /openapi.json");
    let doc: Value = res.json().await.expect("/openapi.json is JSON");

    let api_md_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md");
    let api_md = std::fs::read_to_string(api_md_path)
        .unwrap_or_else(|e| panic!("cannot read {api_md_path}: {e}"));

    let paths = doc["paths"]
        .as_object()
        .expect("/openapi.json has a `paths` object");
    let mut routes = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("path item {path} is not an object"));
        for (method, operation) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            routes.insert(format!("{} {path}", method.to_uppercase()));
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no `responses` object"));
            statuses.extend(responses.keys().cloned());
        }
    }
    // An empty document would make every check below pass without checking anything.
    assert!(!routes.is_empty(), "/openapi.json documents no operation");
    assert!(!statuses.is_empty(), "/openapi.json documents no response");

    let missing_routes: Vec<_> = routes
        .iter()
        .filter(|route| !mentions(&api_md, route, path_char))
        .collect();
    let missing_statuses: Vec<_> = statuses
        .iter()
        .filter(|status| !mentions(&api_md, status, |c| c.is_ascii_alphanumeric()))
        .collect();
    assert!(
        missing_routes.is_empty() && missing_statuses.is_empty(),
        "docs/api.md does not mention every route and status of /openapi.json:\n  \
         routes missing (as `METHOD path`): {missing_routes:?}\n  \
         statuses missing: {missing_statuses:?}"
    );
}

fn read_api_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn api_md_gives_every_status_and_detail_the_code_can_answer() {
    use actix_web::ResponseError;
    use sentiment_api::error::ApiError;

    let api_md = read_api_md();
    let mut missing = Vec::new();
    for error in ApiError::every_kind() {
        if matches!(error, ApiError::Validation(_)) {
            continue; // 422's detail is a list of items: the next test.
        }
        let status = error.status_code().as_u16().to_string();
        let detail = error.to_string();
        // On one line (a table row): the status, then the exact detail as JSON.
        let quoted = format!("\"detail\":\"{detail}\"");
        let found = api_md
            .lines()
            .any(|l| mentions(l, &status, |c| c.is_ascii_alphanumeric()) && l.contains(&quoted));
        if !found {
            missing.push(format!("{status} {{{quoted}}}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md lacks a line giving each of these status and body pairs (write the status \
         and the exact body on one line, as a row of its error table):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn api_md_gives_every_validation_type_with_its_ctx() {
    use sentiment_api::error::ValidationItem;

    let api_md = read_api_md();
    let mut missing = Vec::new();
    for item in ValidationItem::every_type() {
        let kind = format!("`{}`", item.kind);
        let Some(line) = api_md.lines().find(|l| l.contains(&kind)) else {
            missing.push(format!("{kind}: no line names it"));
            continue;
        };
        let value = serde_json::to_value(&item).unwrap();
        if let Some(ctx) = value["ctx"].as_object() {
            for key in ctx.keys() {
                if !line.contains(&format!("`{key}`")) {
                    missing.push(format!("{kind}: its line lacks ctx key `{key}`"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md's 422 table (one line per type, its ctx keys in backticks):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn api_md_gives_every_failed_job_detail() {
    use sentiment_api::inference::InferenceError;

    // Exhaustive on purpose: a new way for a job to fail must be documented.
    let all = [InferenceError::TimedOut, InferenceError::Failed];
    for e in all {
        match e {
            InferenceError::TimedOut | InferenceError::Failed => {}
        }
    }
    let api_md = read_api_md();
    let missing: Vec<_> = all
        .iter()
        .map(|e| format!("\"detail\":\"{e}\""))
        .filter(|quoted| !api_md.contains(quoted.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/api.md does not give these `detail`s of a failed job: {missing:?}"
    );
}

/// Every string in `value`, depth first.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[actix_rt::test]
async fn api_md_gives_every_status_body_the_routes_document() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let mut texts = Vec::new();
    strings(&doc, &mut texts);
    // The health routes' bodies, as their descriptions give them: `{"status":"draining"}`, ...
    let mut bodies: Vec<&str> = texts
        .iter()
        .flat_map(|t| {
            t.match_indices("{\"status\":\"")
                .map(move |(at, _)| &t[at..])
        })
        .filter_map(|rest| rest.find("\"}").map(|end| &rest[..end + 2]))
        .collect();
    bodies.sort_unstable();
    bodies.dedup();
    assert!(
        bodies.len() >= 3,
        "/openapi.json no longer describes the health bodies: {bodies:?}"
    );
    let api_md = read_api_md();
    let missing: Vec<_> = bodies.iter().filter(|b| !api_md.contains(**b)).collect();
    assert!(
        missing.is_empty(),
        "docs/api.md lacks these bodies that /openapi.json describes: {missing:?}"
    );
}

#[test]
fn api_md_names_exactly_the_routes_never_refused_for_overload() {
    use sentiment_api::paths::NEVER_SHED;

    let api_md = read_api_md();
    let paragraph = api_md
        .split("\n\n")
        .find(|p| p.replace('\n', " ").contains("never refused for overload"))
        .expect("docs/api.md says which routes are \"never refused for overload\"");
    let named: Vec<&str> = paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/'))
        .collect();
    let mut expected = NEVER_SHED.to_vec();
    expected.sort_unstable();
    let mut named_sorted = named.clone();
    named_sorted.sort_unstable();
    assert_eq!(
        named_sorted, expected,
        "docs/api.md's paragraph on overload must name exactly the routes of paths::NEVER_SHED"
    );
}
