//! Scores texts from stdin with the service's VADER model, single-threaded, and reports texts/s.
//!
//! ```text
//! cargo run --release --example model_throughput -- [--rounds N] [--scores] < texts.txt
//! ```
//!
//! Input: one text per `\n`-terminated line (invalid UTF-8 is replaced with U+FFFD, as the service
//! would never see it otherwise). One untimed warm-up round scores every text, then `N` timed rounds
//! (default 10) do the same; only the scoring loop is inside the clock.
//!
//! Output on stdout: with `--scores`, one line per text, `COMPOUND<TAB>POS<TAB>NEU<TAB>NEG`, in input
//! order; then always one JSON line `{"texts":..,"rounds":..,"round_seconds":[..],
//! "texts_per_second":..}`, the rate being that of the median round. A readable summary goes to
//! stderr. `scripts/bench-model.py` drives it against Python `vaderSentiment`.

use std::hint::black_box;
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use sentiment_api::model::{SentimentModel, Vader};

fn usage() -> ExitCode {
    eprintln!("usage: model_throughput [--rounds N] [--scores] < texts (one per line)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut rounds = 10_usize;
    let mut print_scores = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => rounds = n,
                _ => return usage(),
            },
            "--scores" => print_scores = true,
            _ => return usage(),
        }
    }
    match run(rounds, print_scores) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_texts() -> io::Result<Vec<String>> {
    let mut input = io::stdin().lock();
    let mut texts = Vec::new();
    let mut line = Vec::new();
    while input.read_until(b'\n', &mut line)? > 0 {
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        texts.push(String::from_utf8_lossy(&line).into_owned());
        line.clear();
    }
    Ok(texts)
}

/// The median, averaging the two middle values of an even count (as Python's `statistics.median`).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn run(rounds: usize, print_scores: bool) -> io::Result<()> {
    let texts = read_texts()?;
    if texts.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no texts on stdin",
        ));
    }
    let model = Vader::new();

    // Warm-up (caches, branch predictors, page faults of the lexicon); its scores are the ones printed.
    let scores: Vec<_> = texts.iter().map(|t| model.score(t)).collect();

    let mut round_seconds = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        for text in &texts {
            black_box(model.score(black_box(text)));
        }
        round_seconds.push(started.elapsed().as_secs_f64());
    }
    let median = median(&round_seconds);
    let rate = texts.len() as f64 / median;

    let mut out = BufWriter::new(io::stdout().lock());
    if print_scores {
        for s in &scores {
            writeln!(
                out,
                "{}\t{}\t{}\t{}",
                s.compound, s.positive, s.neutral, s.negative
            )?;
        }
    }
    let listed: Vec<String> = round_seconds.iter().map(|s| format!("{s:.6}")).collect();
    writeln!(
        out,
        "{{\"texts\":{},\"rounds\":{rounds},\"round_seconds\":[{}],\"texts_per_second\":{rate:.1}}}",
        texts.len(),
        listed.join(",")
    )?;
    out.flush()?;
    eprintln!(
        "model_throughput: {} texts x {rounds} rounds, median round {:.3} s: {rate:.0} texts/s \
         ({:.2} us/text), single thread",
        texts.len(),
        median,
        1e6 / rate
    );
    Ok(())
}
