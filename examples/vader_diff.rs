//! Compares the VADER model's fast ASCII path with `vader-parity` on texts from stdin, bit for bit.
//!
//! ```text
//! cargo run --release --example vader_diff < texts.txt            # one text per "\n"-ended line
//! cargo run --release --example vader_diff -- --profile 100000 < texts.txt
//! ```
//!
//! Default: every text is scored by `Vader::score`, by the fast path alone and by `vader-parity`;
//! each mismatch is printed (escaped) and the exit status is 1 if there was any. `--profile N`
//! only scores every text N times with `Vader::score` (for `valgrind --tool=callgrind`) and prints
//! the time per text. The time `Vader::new()` takes goes to stderr.

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Instant;

use sentiment_api::model::{Scores, SentimentModel, Vader};

fn bits(s: &Scores) -> [u64; 4] {
    [
        s.compound.to_bits(),
        s.positive.to_bits(),
        s.neutral.to_bits(),
        s.negative.to_bits(),
    ]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let profile = match args.as_slice() {
        [] => None,
        [flag, n] if flag == "--profile" => match n.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => return usage(),
        },
        _ => return usage(),
    };
    let mut input = Vec::new();
    if let Err(err) = io::stdin().read_to_end(&mut input) {
        eprintln!("vader_diff: cannot read stdin: {err}");
        return ExitCode::from(2);
    }
    let input = String::from_utf8_lossy(&input);
    let mut texts: Vec<&str> = input.split('\n').collect();
    if texts.last() == Some(&"") {
        texts.pop();
    }
    let started = Instant::now();
    let vader = Vader::new();
    let built = started.elapsed();
    let started = Instant::now();
    let parity = vader_parity::SentimentIntensityAnalyzer::new();
    let parity_built = started.elapsed();
    drop(parity);
    eprintln!(
        "Vader::new() {:.2} ms; vader-parity's SentimentIntensityAnalyzer::new(), which \
         Vader builds on its first non-ASCII text, {:.2} ms",
        built.as_secs_f64() * 1e3,
        parity_built.as_secs_f64() * 1e3
    );

    if let Some(rounds) = profile {
        let started = Instant::now();
        let mut sink = 0.0;
        for _ in 0..rounds {
            for text in &texts {
                sink += std::hint::black_box(vader.score(std::hint::black_box(text))).compound;
            }
        }
        let elapsed = started.elapsed();
        let per_text = elapsed.as_secs_f64() / (rounds * texts.len().max(1)) as f64;
        println!(
            "{} texts x {rounds}: {:.1} ns per text (checksum {sink:.4})",
            texts.len(),
            per_text * 1e9
        );
        return ExitCode::SUCCESS;
    }

    let (mut fast, mut mismatches) = (0_usize, 0_usize);
    for text in &texts {
        let expected = vader.score_reference(text);
        let served = vader.score(text);
        let fast_scores = vader.score_fast_path(text);
        fast += usize::from(fast_scores.is_some());
        let fast_differs = fast_scores.is_some_and(|s| bits(&s) != bits(&expected));
        if bits(&served) != bits(&expected) || fast_differs {
            mismatches += 1;
            println!("MISMATCH {text:?}: vader-parity {expected:?}, Vader::score {served:?}, fast path {fast_scores:?}");
        }
    }
    println!(
        "{} texts, {fast} on the fast path, {mismatches} mismatches",
        texts.len()
    );
    if mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: vader_diff [--profile N] < texts (one per line)");
    ExitCode::from(2)
}
