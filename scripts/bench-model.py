#!/usr/bin/env python3
"""Texts per second of the Rust VADER model against Python vaderSentiment 3.3.2, on the same texts.

Usage:

    python3 scripts/bench-model.py [--rounds-rust N] [--rounds-python N] [DATA_DIR]

Texts: every `*_GroundTruth.txt` in DATA_DIR (default $VADER_GROUND_TRUTH_DIR: the VADER ground-truth
sets, which the repository does not carry; read exactly as scripts/vader_parity.py reads them), or,
when no folder is given or it is missing, the texts of tests/fixtures/vader_reference.jsonl.

Both sides run single-threaded on the same machine, one after the other. Each scores every text once
untimed (warm-up; those are the scores compared), then times N rounds over all texts (defaults: 10 for
Rust, 3 for Python); only the scoring loop is inside the clock, and the rate reported is that of the
median round. The Rust side is `cargo run --release --example model_throughput`; the Python side runs
in the venv that scripts/vader_parity.py keeps at target/vader-venv (created there if missing).
Scores (compound, pos, neu, neg) must agree to 4 decimals on every text.

Exit status: 0 when every score agrees, 1 when any differs, 2 when the benchmark could not run.
The target (issue 7) is a ratio of at least 5; the verdict is printed, not turned into the exit status.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vader_parity import (  # noqa: E402  (the path above must be set first)
    REFERENCE_VERSION,
    REPO,
    CheckError,
    read_set,
    reference_python,
)

FIXTURES = REPO / "tests" / "fixtures" / "vader_reference.jsonl"
TARGET_RATIO = 5.0
MAX_LISTED = 10

# Run by the venv's interpreter: rounds in argv, a JSON list of texts on stdin; JSON out.
PYTHON_PROGRAM = """
import json, sys, time
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
rounds = int(sys.argv[1])
texts = json.load(sys.stdin)
analyzer = SentimentIntensityAnalyzer()
score = analyzer.polarity_scores
scores = [score(text) for text in texts]
round_seconds = []
for _ in range(rounds):
    started = time.perf_counter()
    for text in texts:
        score(text)
    round_seconds.append(time.perf_counter() - started)
json.dump({
    "scores": [[s["compound"], s["pos"], s["neu"], s["neg"]] for s in scores],
    "round_seconds": round_seconds,
    "python": sys.version.split()[0],
}, sys.stdout)
"""


def load_texts(data_dir: Path) -> tuple:
    """The texts and a line saying where they came from."""
    paths = sorted(data_dir.glob("*_GroundTruth.txt")) if data_dir.is_dir() else []
    if paths:
        texts = [text for path in paths for _, text in read_set(path)]
        return texts, f"{len(paths)} ground-truth sets in {data_dir}"
    with FIXTURES.open(encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    return texts, f"{FIXTURES.relative_to(REPO)} (no ground truth at {data_dir})"


def run_python(python: Path, texts: list, rounds: int) -> tuple:
    result = subprocess.run(
        [str(python), "-c", PYTHON_PROGRAM, str(rounds)],
        input=json.dumps(texts), capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise CheckError(f"the Python side failed:\n{result.stderr}")
    answer = json.loads(result.stdout)
    if len(answer["scores"]) != len(texts):
        raise CheckError(f"the Python side scored {len(answer['scores'])} of {len(texts)} texts")
    return answer["scores"], answer["round_seconds"], answer["python"]


def run_rust(texts: list, rounds: int) -> tuple:
    build = subprocess.run(["cargo", "build", "--release", "--example", "model_throughput"], cwd=REPO)
    if build.returncode != 0:
        raise CheckError("cargo build --release --example model_throughput failed")
    payload = "".join(text + "\n" for text in texts).encode("utf-8")
    result = subprocess.run(
        ["cargo", "run", "--release", "--quiet", "--example", "model_throughput", "--",
         "--rounds", str(rounds), "--scores"],
        cwd=REPO, input=payload, stdout=subprocess.PIPE,
    )
    if result.returncode != 0:
        raise CheckError(f"the Rust side exited with {result.returncode}")
    lines = result.stdout.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    summary = json.loads(lines.pop())
    if len(lines) != len(texts):
        raise CheckError(f"the Rust side answered {len(lines)} lines for {len(texts)} texts")
    scores = [[float(field) for field in line.split("\t")] for line in lines]
    return scores, summary["round_seconds"]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def rate(count: int, round_seconds: list) -> float:
    return count / statistics.median(round_seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "data_dir", nargs="?", type=Path, default=Path(os.environ.get("VADER_GROUND_TRUTH_DIR", "-"))
    )
    parser.add_argument("--rounds-rust", type=int, default=10)
    parser.add_argument("--rounds-python", type=int, default=3)
    args = parser.parse_args()
    if args.rounds_rust < 1 or args.rounds_python < 1:
        parser.error("rounds must be at least 1")

    texts, source = load_texts(args.data_dir.resolve())
    # One text per line on the Rust side: a text holding a newline could not travel whole.
    kept = [text for text in texts if "\n" not in text]
    if len(kept) != len(texts):
        print(f"left out {len(texts) - len(kept)} texts that hold a newline")
    texts = kept
    words = sum(len(text.split()) for text in texts)
    print(f"texts: {len(texts)} from {source}, {words / len(texts):.1f} words on average")

    python = reference_python()
    expected, python_rounds, python_version = run_python(python, texts, args.rounds_python)
    actual, rust_rounds = run_rust(texts, args.rounds_rust)

    mismatches = [
        (index, want, got)
        for index, (want, got) in enumerate(zip(expected, actual))
        if [round(x, 4) for x in want] != [round(x, 4) for x in got]
    ]
    for index, want, got in mismatches[:MAX_LISTED]:
        print(f"  text {index}: python {want}, rust {got}: {texts[index]!r}")
    if len(mismatches) > MAX_LISTED:
        print(f"  ... and {len(mismatches) - MAX_LISTED} more")
    print(f"scores (compound, pos, neu, neg to 4 decimals): {len(mismatches)} mismatches "
          f"of {len(texts)} texts")

    python_rate = rate(len(texts), python_rounds)
    rust_rate = rate(len(texts), rust_rounds)
    ratio = rust_rate / python_rate
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}")
    print(f"python vaderSentiment=={REFERENCE_VERSION} (CPython {python_version}), "
          f"{args.rounds_python} rounds: {python_rate:,.0f} texts/s ({1e6 / python_rate:.1f} us/text)")
    print(f"rust sentiment_api::model::Vader (release), {args.rounds_rust} rounds: "
          f"{rust_rate:,.0f} texts/s ({1e6 / rust_rate:.2f} us/text)")
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"ratio rust/python: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x: {verdict})")
    return 1 if mismatches else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as err:
        print(f"bench-model: cannot run: {err}", file=sys.stderr)
        sys.exit(2)
