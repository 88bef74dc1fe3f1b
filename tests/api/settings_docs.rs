//! `docs/configuration.md`'s variable table and `.env.example` against the settings' declarations
//! (`sentiment_api::config::SETTINGS`): a setting added, renamed or re-defaulted without its docs
//! fails here, naming it. `UPDATE_DOCS=1 cargo test --test api settings_docs` rewrites both.

use sentiment_api::config::{env_example, markdown_table, SETTINGS};

const TABLE_START: &str = "<!-- settings table: generated from src/config.rs by \
                           `UPDATE_DOCS=1 cargo test --test api settings_docs` -->";
const TABLE_END: &str = "<!-- end of the settings table -->";

fn path(relative: &str) -> String {
    format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var_os("UPDATE_DOCS").is_some()
}

/// The variables whose generated lines `have` lacks (a missing line, or a differing default or
/// help), and the lines of `have` that the declarations do not give.
fn differences(want: &str, have: &str) -> (Vec<String>, Vec<String>) {
    let missing = SETTINGS
        .iter()
        .filter(|s| {
            let needle = format!("{}=", s.name);
            let table = format!("`{}`", s.name);
            want.lines()
                .filter(|l| l.contains(&table) || l.contains(&needle))
                .any(|l| !have.lines().any(|h| h == l))
        })
        .map(|s| s.name.to_owned())
        .collect();
    let extra = have
        .lines()
        .filter(|l| !l.trim().is_empty() && !want.lines().any(|w| w == *l))
        .map(str::to_owned)
        .collect();
    (missing, extra)
}

#[test]
fn configuration_md_holds_the_declared_table() {
    let file = path("docs/configuration.md");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let (before, rest) = text
        .split_once(TABLE_START)
        .unwrap_or_else(|| panic!("docs/configuration.md lacks the line {TABLE_START}"));
    let (table, after) = rest
        .split_once(TABLE_END)
        .unwrap_or_else(|| panic!("docs/configuration.md lacks the line {TABLE_END}"));
    let want = format!("\n{}", markdown_table());
    if table == want {
        return;
    }
    if updating() {
        std::fs::write(
            &file,
            format!("{before}{TABLE_START}{want}{TABLE_END}{after}"),
        )
        .unwrap();
        return;
    }
    let (missing, extra) = differences(&want, table);
    panic!(
        "docs/configuration.md's settings table differs from the declarations in src/config.rs.\n\
         Variables whose row is missing or differs (default, help, section): {missing:?}\n\
         Rows no declaration gives: {extra:#?}\n\
         Regenerate it: UPDATE_DOCS=1 cargo test --test api settings_docs"
    );
}

#[test]
fn env_example_is_the_declared_one() {
    let file = path(".env.example");
    let have = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let want = env_example();
    if have == want {
        return;
    }
    if updating() {
        std::fs::write(&file, want).unwrap();
        return;
    }
    let (missing, extra) = differences(&want, &have);
    panic!(
        ".env.example differs from the declarations in src/config.rs.\n\
         Variables missing or differing (their `NAME=default` line or its help line): {missing:?}\n\
         Lines no declaration gives: {extra:#?}\n\
         Regenerate it: UPDATE_DOCS=1 cargo test --test api settings_docs"
    );
}

#[test]
fn every_setting_is_named_in_the_configuration_doc_and_env_example() {
    if updating() {
        return; // The two tests above are rewriting the files.
    }
    let doc = std::fs::read_to_string(path("docs/configuration.md")).unwrap();
    let example = std::fs::read_to_string(path(".env.example")).unwrap();
    let absent: Vec<_> = SETTINGS
        .iter()
        .filter(|s| !doc.contains(&format!("`{}`", s.name)) || !example.contains(s.name))
        .map(|s| s.name)
        .collect();
    assert!(
        absent.is_empty(),
        "settings not named in docs/configuration.md or .env.example: {absent:?}"
    );
}

#[test]
fn help_lists_every_setting_with_its_default() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentiment-api"))
        .arg("--help")
        .env_clear()
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let absent: Vec<_> = SETTINGS
        .iter()
        .filter(|s| {
            !help.lines().any(|l| {
                l.trim_start().starts_with(&format!("{} ", s.name)) && l.contains("[default: ")
            })
        })
        .map(|s| s.name)
        .collect();
    assert!(
        absent.is_empty(),
        "`sentiment-api --help` lacks: {absent:?}"
    );
}
