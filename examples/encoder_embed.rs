//! Embeds lines from stdin with the `encoder` feature's all-MiniLM-L6-v2, with VADER's four scores
//! beside each embedding: the features `scripts/encoder/train_head.py` trains the head on.
//!
//! ```text
//! printf '1\tThe soup was good.\n' | MODEL_DIR=target/minilm \
//!     cargo run --quiet --features encoder --example encoder_embed
//! ```
//!
//! Input: one record per `\n`-terminated line, `ID<TAB>TEXT` (a line with no tab is a text with an
//! empty ID; a `\r` before the newline is dropped; invalid UTF-8 is replaced with U+FFFD).
//!
//! Output: one line per input line, in order, tab-separated: `ID`, the number of word pieces,
//! VADER's compound, positive, neutral and negative, the head's probability that the text is
//! positive, then the 384 embedding values. Floats are printed as the shortest decimal that reads
//! back as the same number.
//!
//! `--stats` also prints to stderr the load time, VmRSS after loading and at the end, the peak
//! (VmHWM), the process's thread count, and the throughput. Texts are embedded in blocks of 512 (sorted by length inside a
//! block, 32 to a forward pass), so the whole input need not fit in memory.
//! `ENCODER_THREADS` sets the encoder's thread count (default: every CPU the process may use).

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use sentiment_api::model::{Encoder, SentimentModel, Vader};

const BLOCK: usize = 512;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stats = std::env::args().any(|a| a == "--stats");
    let dir = PathBuf::from(std::env::var("MODEL_DIR").map_err(|_| "set MODEL_DIR")?);
    let started = Instant::now();
    let encoder = match std::env::var("ENCODER_THREADS") {
        Ok(n) => Encoder::load_with_threads(&dir, n.parse()?)?,
        Err(_) => Encoder::load(&dir)?,
    };
    let vader = Vader::new();
    if stats {
        eprintln!(
            "loaded in {:.0} ms, {} threads; {}",
            started.elapsed().as_secs_f64() * 1e3,
            encoder.threads(),
            memory()
        );
    }

    let started = Instant::now();
    let mut input = io::stdin().lock();
    let mut output = BufWriter::new(io::stdout().lock());
    let mut records: Vec<(String, String)> = Vec::with_capacity(BLOCK);
    let mut line = Vec::new();
    let mut total = 0usize;
    loop {
        line.clear();
        let eof = input.read_until(b'\n', &mut line)? == 0;
        if !eof {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let record = String::from_utf8_lossy(&line);
            let (id, text) = record.split_once('\t').unwrap_or(("", &record));
            records.push((id.to_owned(), text.to_owned()));
        }
        if records.len() == BLOCK || (eof && !records.is_empty()) {
            let texts: Vec<&str> = records.iter().map(|(_, t)| t.as_str()).collect();
            let embeddings = encoder.try_embed(&texts)?;
            for ((id, text), embedding) in records.iter().zip(&embeddings) {
                let scores = vader.score(text);
                let p = encoder.head_probability(text, embedding);
                let tokens = encoder.token_ids(text)?.len();
                write!(
                    output,
                    "{id}\t{tokens}\t{}\t{}\t{}\t{}\t{p}",
                    scores.compound, scores.positive, scores.neutral, scores.negative
                )?;
                for x in embedding {
                    write!(output, "\t{x}")?;
                }
                writeln!(output)?;
            }
            total += records.len();
            records.clear();
            if stats {
                let secs = started.elapsed().as_secs_f64();
                eprintln!("{total} texts, {:.1} texts/s", total as f64 / secs);
            }
        }
        if eof {
            break;
        }
    }
    output.flush()?;
    if stats {
        eprintln!("done; {}", memory());
    }
    Ok(())
}

/// VmRSS, VmHWM and the thread count from /proc/self/status (Linux).
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "VmRSS {}, VmHWM {}, {} threads in the process",
        field("VmRSS:"),
        field("VmHWM:"),
        field("Threads:")
    )
}
