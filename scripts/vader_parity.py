#!/usr/bin/env python3
"""Check that the Rust VADER model gives Python vaderSentiment 3.3.2's compound on the VADER ground truth.

Usage:

    python3 scripts/vader_parity.py [DATA_DIR]

DATA_DIR holds the `*_GroundTruth.txt` sets (`ID<TAB>MEAN_RATING<TAB>TEXT`, CRLF line endings) of the
VADER paper (Hutto & Gilbert, ICWSM-14), which the repository does not carry; it defaults to
$VADER_GROUND_TRUTH_DIR. A missing or empty folder is an error, never a silent pass.

It also checks that src/model/vader/negate.txt, the one copy of VADER's negation list that the model
and its tests read, is the package's own `NEGATE`.

The reference is vaderSentiment 3.3.2 under CPython 3.12 or later: since 3.12 `sum()` of floats is
compensated, which changes the compound of about 2 texts in 10,000 (those whose sentiments cancel out),
and the service follows 3.12+. The script takes $VADER_REFERENCE_PYTHON, else the first python3.13 or
python3.12 that runs (pyenv's installed versions included), else itself with a warning.

The reference runs in a venv of its own at target/vader-venv (under $CARGO_TARGET_DIR if set),
created on the first run and reused while it still holds vaderSentiment 3.3.2; delete it to start
afresh. The Rust side is `cargo run --quiet --example vader_scores`. Every text is scored by both,
and the compounds are compared to 4 decimals, the precision VADER publishes.

Exit status: 0 when every text agrees, 1 when any differs, 2 when the check could not run.
This script uses only the standard library; only the venv's interpreter imports vaderSentiment.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REFERENCE_VERSION = "3.3.2"
REPO = Path(__file__).resolve().parent.parent
NEGATE_FILE = REPO / "src" / "model" / "vader" / "negate.txt"
MAX_LISTED = 20

# Run by the venv's interpreter: a JSON list of texts on stdin, their compounds as a JSON list on stdout.
REFERENCE_PROGRAM = """
import json, sys
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
analyzer = SentimentIntensityAnalyzer()
json.dump([analyzer.polarity_scores(text)["compound"] for text in json.load(sys.stdin)], sys.stdout)
"""

NEGATE_PROGRAM = """
import json, sys
from vaderSentiment.vaderSentiment import NEGATE
json.dump(list(NEGATE), sys.stdout)
"""

VERSION_PROGRAM = "from importlib.metadata import version; print(version('vaderSentiment'))"


class CheckError(Exception):
    """The check could not run (as opposed to: it ran and found mismatches)."""


def venv_python(venv_dir: Path) -> Path:
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


VERSION_CHECK = "import sys; print('%d.%d' % sys.version_info[:2])"


def runs(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", VERSION_CHECK], capture_output=True).returncode == 0
    except OSError:
        return False


def base_interpreter() -> str:
    """A CPython >= 3.12 to build the venv from (see the module docstring)."""
    chosen = os.environ.get("VADER_REFERENCE_PYTHON")
    if chosen:
        if not runs(chosen):
            raise CheckError(f"VADER_REFERENCE_PYTHON={chosen} does not run")
        return chosen
    candidates = [shutil.which(name) for name in ("python3.13", "python3.12")]
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for minor in ("3.13", "3.12"):
        candidates += sorted(str(p) for p in root.glob(f"versions/{minor}.*/bin/python{minor}"))
    for candidate in filter(None, candidates):
        if runs(candidate):
            return candidate
    print(f"warning: no CPython >= 3.12 found; the reference runs under {sys.version.split()[0]}, "
          "whose sum() differs on texts whose sentiments cancel out")
    return sys.executable


def has_reference(python: Path) -> bool:
    """The venv holds vaderSentiment 3.3.2, on a CPython >= 3.12 unless none was to be had."""
    if not python.exists():
        return False
    result = subprocess.run([str(python), "-c", VERSION_PROGRAM], capture_output=True, text=True)
    if result.returncode != 0 or result.stdout.strip() != REFERENCE_VERSION:
        return False
    own = subprocess.run([str(python), "-c", VERSION_CHECK], capture_output=True, text=True)
    major, minor = (int(x) for x in own.stdout.strip().split("."))
    return (major, minor) >= (3, 12) or base_interpreter() == sys.executable


def reference_python() -> Path:
    """The interpreter of a venv holding vaderSentiment 3.3.2: the cached one, or a new one."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    venv_dir = target / "vader-venv"
    python = venv_python(venv_dir)
    if has_reference(python):
        print(f"reusing {venv_dir}")
        return python

    # Anything else there (another version, a half-finished install) is rebuilt from scratch.
    base = base_interpreter()
    print(f"creating {venv_dir} from {base} with vaderSentiment=={REFERENCE_VERSION}")
    shutil.rmtree(venv_dir, ignore_errors=True)
    created = subprocess.run([base, "-m", "venv", str(venv_dir)])
    if created.returncode != 0:  # ensurepip missing (Debian's python3-venv), no permission, ...
        raise CheckError(f"cannot create a venv at {venv_dir} with {base}")
    # --no-deps: the package declares `requests`, but only its interactive demo imports it.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         f"vaderSentiment=={REFERENCE_VERSION}"],
    )
    if install.returncode != 0 or not has_reference(python):
        shutil.rmtree(venv_dir, ignore_errors=True)
        raise CheckError(f"cannot install vaderSentiment=={REFERENCE_VERSION} into {venv_dir}")
    return python


def read_records(path: Path) -> list:
    """The (id, mean rating, text) records of one ground-truth file, the rating as written."""
    # split("\n"), not splitlines(): the latter also breaks on \x0b, \x1c, \x85, \u2028 and others,
    # which can sit inside a text. Only the CR of each CRLF goes; the text is otherwise untouched.
    content = path.read_bytes().decode("utf-8-sig", errors="replace")
    items = []
    for number, line in enumerate(content.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        if len(fields) != 3:
            raise CheckError(f"{path.name}:{number}: expected ID<TAB>MEAN_RATING<TAB>TEXT")
        items.append((fields[0], fields[1], fields[2]))
    return items


def read_set(path: Path) -> list:
    """The (id, text) items of one ground-truth file."""
    return [(item_id, text) for item_id, _, text in read_records(path)]


def python_compounds(python: Path, texts: list) -> list:
    # ensure_ascii (the default) keeps the pipe pure ASCII, whatever the child's locale.
    result = subprocess.run(
        [str(python), "-c", REFERENCE_PROGRAM],
        input=json.dumps(texts), capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise CheckError(f"the Python reference failed:\n{result.stderr}")
    compounds = json.loads(result.stdout)
    if len(compounds) != len(texts):
        raise CheckError(f"the Python reference scored {len(compounds)} of {len(texts)} texts")
    return compounds


def check_negations(python: Path) -> None:
    """negate.txt must hold the package's NEGATE list, word for word and in order."""
    result = subprocess.run([str(python), "-c", NEGATE_PROGRAM], capture_output=True, text=True)
    if result.returncode != 0:
        raise CheckError(f"cannot read NEGATE from the Python reference:\n{result.stderr}")
    reference = json.loads(result.stdout)
    ours = [line for line in NEGATE_FILE.read_text(encoding="utf-8").split("\n") if line]
    if ours != reference:
        missing = [w for w in reference if w not in ours]
        extra = [w for w in ours if w not in reference]
        raise CheckError(
            f"{NEGATE_FILE.relative_to(REPO)} is not vaderSentiment's NEGATE "
            f"(missing {missing}, extra {extra}, or another order)"
        )
    print(f"negations: {NEGATE_FILE.relative_to(REPO)} is the package's NEGATE ({len(ours)} words)")


def rust_example_lines(example: str, payload: bytes, count: int) -> list:
    """Runs `cargo run --quiet --example EXAMPLE` with `payload` on stdin; its `count` output lines.

    stderr is left to the terminal, so a build failure shows in the log."""
    try:
        result = subprocess.run(
            ["cargo", "run", "--quiet", "--example", example],
            cwd=REPO, input=payload, stdout=subprocess.PIPE,
        )
    except FileNotFoundError as err:
        raise CheckError("cargo is not on PATH") from err
    if result.returncode != 0:
        raise CheckError(f"cargo run --example {example} exited with {result.returncode}")
    lines = result.stdout.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != count:
        raise CheckError(f"the {example} example answered {len(lines)} lines for {count} texts")
    return lines


def rust_compounds(texts: list) -> list:
    # The line number is the ID: ground-truth IDs repeat across sets, and order is kept anyway. No text
    # holds a "\n" (lines were split on it), so each text reaches Rust whole and byte-identical.
    payload = "".join(f"{index}\t{text}\n" for index, text in enumerate(texts)).encode("utf-8")
    lines = rust_example_lines("vader_scores", payload, len(texts))
    compounds = []
    for index, line in enumerate(lines):
        line_id, _, value = line.partition("\t")
        if line_id != str(index):
            raise CheckError(f"the Rust example answered line {index} with ID {line_id!r}")
        compounds.append(float(value))
    return compounds


def main(argv: list) -> int:
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    given = argv[1] if len(argv) == 2 else os.environ.get("VADER_GROUND_TRUTH_DIR")
    if not given:
        raise CheckError("name the ground-truth folder: DATA_DIR or $VADER_GROUND_TRUTH_DIR")
    data_dir = Path(given).resolve()
    if not data_dir.is_dir():
        raise CheckError(f"no ground-truth folder at {data_dir}")
    set_paths = sorted(data_dir.glob("*_GroundTruth.txt"))
    if not set_paths:
        raise CheckError(f"no *_GroundTruth.txt in {data_dir}")

    sets = [(path.name[: -len("_GroundTruth.txt")], read_set(path)) for path in set_paths]
    texts = [text for _, items in sets for _, text in items]

    started = time.monotonic()
    python = reference_python()
    check_negations(python)
    ready = time.monotonic()
    expected = python_compounds(python, texts)
    scored = time.monotonic()
    actual = rust_compounds(texts)
    done = time.monotonic()

    mismatches = []
    offset = 0
    for name, items in sets:
        differing = 0
        for position, (item_id, text) in enumerate(items):
            want, got = expected[offset + position], actual[offset + position]
            # Both sides are already rounded to 4 decimals; rounding again only guards the float parse.
            if round(want, 4) != round(got, 4):
                differing += 1
                mismatches.append((name, item_id, text, want, got))
        offset += len(items)
        print(f"{name}: {differing} mismatches of {len(items)} texts")

    for name, item_id, text, want, got in mismatches[:MAX_LISTED]:
        print(f"  {name} {item_id}: python {want}, rust {got}: {text!r}")
    if len(mismatches) > MAX_LISTED:
        print(f"  ... and {len(mismatches) - MAX_LISTED} more")
    print(
        f"timings: venv {ready - started:.1f} s, python {scored - ready:.1f} s, "
        f"rust (with build) {done - scored:.1f} s"
    )
    print(f"vader parity: {len(mismatches)} mismatches of {len(texts)} texts")
    if not texts:
        raise CheckError(f"the sets in {data_dir} hold no texts")
    return 1 if mismatches else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CheckError as err:
        print(f"vader parity: cannot run: {err}", file=sys.stderr)
        sys.exit(2)
