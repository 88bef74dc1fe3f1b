#!/usr/bin/env python3
"""Holds the Markdown to what it promises. Usage: python3 scripts/docs_check.py [--run]

Always (no build needed):
  - every relative link and #anchor in every Markdown file of the repository resolves (GitHub's
    anchor rules), and none points outside the repository;
  - README.md is at most 6 KB, and the user docs (README, api, configuration, testing, deploy,
    models) at most 55 KB together;
  - no dated measurement (a YYYY-MM-DD date) outside CHANGELOG.md and docs/internals/;
  - every `sh` and `python` block of the user docs is marked `run` or `no-run` in its fence.
With --run: every block marked `run` (```sh run, ```python run) runs as written against the binary
(SENTIMENT_API_BIN, default target/debug/sentiment-api, built if missing): for each block a fresh
server with a key in API_SECRET_KEY, from an empty directory and only PATH from this environment.
The block gets that key as $SENTIMENT_API_KEY and the binary on PATH; only the port 8000 in
`127.0.0.1:8000` is replaced by the server's free port. Each `# prints: <line>` comment in the
block must be a line of its output, in that order. Servers are stopped by PID.
"""
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
USER_DOCS = ["README.md", "docs/api.md", "docs/configuration.md", "docs/testing.md", "docs/deploy.md",
             "docs/models.md"]
README_LIMIT, USER_DOCS_LIMIT = 6_000, 55_000  # bytes: KB read as 1,000 bytes, the stricter reading
# Records may hold dates (and docs/internals/ may).
DATED_OK = {"CHANGELOG.md"}
OUTSIDE = "../" + "shared"  # spelled in two pieces so that this file does not name it
FENCE = re.compile(r"^(```+|~~~+)(.*)$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
DATE = re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b(?!T)")
PRINTS = re.compile(r"#\s*prints:\s?(.*)$")

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)


def markdown_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return sorted(REPO / p for p in out if (REPO / p).is_file())


def split_blocks(text: str) -> tuple[str, list[tuple[str, str, int]]]:
    """The text outside fenced blocks (blocks blanked), and the blocks: (info string, body, line)."""
    prose, blocks, fence, info, body, start = [], [], None, "", [], 0
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line.strip()) if fence is None or line.strip().startswith(fence) else None
        if fence is None and m:
            fence, info, body, start = m.group(1), m.group(2).strip(), [], n
            prose.append("")
        elif fence is not None and m and not m.group(2).strip():
            blocks.append((info, "\n".join(body) + "\n", start))
            fence = None
            prose.append("")
        elif fence is not None:
            body.append(line)
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), blocks


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered."""
    prose, _ = split_blocks(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for line in prose.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", text.lower().replace("`", "")).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    out |= set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", path.read_text(encoding="utf-8")))
    return out


def check_links(files: list[Path]) -> int:
    count = 0
    for path in files:
        rel = path.relative_to(REPO)
        prose, _ = split_blocks(path.read_text(encoding="utf-8"))
        prose = re.sub(r"`[^`\n]*`", "", prose)  # inline code is not a link
        targets = LINK.findall(prose) + REF_LINK.findall(prose)
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            count += 1
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if REPO not in dest.parents and dest != REPO:
                fail(f"{rel}: link {target!r} leaves the repository")
                continue
            if not dest.exists():
                fail(f"{rel}: link {target!r}: {dest.relative_to(REPO)} does not exist")
                continue
            if anchor:
                if dest.suffix != ".md":
                    fail(f"{rel}: link {target!r}: an anchor into a file that is not Markdown")
                elif anchor not in anchors(dest):
                    fail(f"{rel}: link {target!r}: {dest.relative_to(REPO)} has no heading "
                         f"with anchor #{anchor} (it has: {', '.join(sorted(anchors(dest)))})")
    return count


def check_mentions() -> int:
    """Paths under docs/ named in code, scripts and .env.example (`docs/deploy.md#https`) exist."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    count = 0
    for name in out:
        path = REPO / name
        if name != ".ci/run" and path.is_file() and path.suffix in (".md", ".rs", ".py", ".sh", ".toml"):
            if OUTSIDE in path.read_text(encoding="utf-8", errors="replace"):
                fail(f"{name}: names {OUTSIDE}, which is outside the repository (only .ci/run may)")
        if not (name.endswith((".rs", ".py", ".sh", ".toml", ".example")) or name == ".ci/run"):
            continue
        path = REPO / name
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for target in re.findall(r"\bdocs/[\w./-]*\w(?:#[\w-]+)?", line):
                file_part, _, anchor = target.partition("#")
                if not re.search(r"\.(md|conf|png)$", file_part):
                    continue
                count += 1
                dest = REPO / file_part
                if not dest.exists():
                    fail(f"{name}:{n}: names {target}, which does not exist")
                elif anchor and file_part.endswith(".md") and anchor not in anchors(dest):
                    fail(f"{name}:{n}: names {target}: {file_part} has no heading #{anchor}")
    return count


def check_sizes_and_dates(files: list[Path]) -> None:
    readme = (REPO / "README.md").stat().st_size
    if readme > README_LIMIT:
        fail(f"README.md is {readme} bytes; the limit is {README_LIMIT}")
    sizes = {d: (REPO / d).stat().st_size for d in USER_DOCS if (REPO / d).exists()}
    total = sum(sizes.values())
    if total > USER_DOCS_LIMIT:
        fail(f"the user docs are {total} bytes together; the limit is {USER_DOCS_LIMIT}: {sizes}")
    print(f"sizes: README.md {readme} bytes, user docs {total} bytes ({sizes})")
    for path in files:
        rel = str(path.relative_to(REPO))
        if rel in DATED_OK or rel.startswith("docs/internals/"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for date in DATE.findall(line):
                fail(f"{rel}:{n}: the date {date}: dated measurements belong in CHANGELOG.md or "
                     "docs/internals/; link to them from here")


def runnable_blocks() -> list[tuple[str, str, str, int]]:
    out = []
    for doc in USER_DOCS:
        path = REPO / doc
        if not path.exists():
            continue
        _, blocks = split_blocks(path.read_text(encoding="utf-8"))
        for info, body, line in blocks:
            words = info.split()
            if not words or words[0] not in ("sh", "bash", "python"):
                continue
            if doc == "docs/models.md" and "run" not in words:
                continue  # issue 26's page: its blocks are checked once it marks them
            if "run" in words:
                out.append((doc, words[0], body, line))
            elif "no-run" not in words:
                fail(f"{doc}:{line}: a ```{info} block is marked neither `run` nor `no-run`")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary() -> Path:
    path = Path(os.environ.get("SENTIMENT_API_BIN", REPO / "target/debug/sentiment-api"))
    if not path.exists():
        subprocess.run(["cargo", "build", "--quiet", "--bin", "sentiment-api"], cwd=REPO, check=True)
    return path.resolve()


def python() -> str:
    venv = REPO / "target/ci-venv/bin/python"
    return str(venv) if venv.exists() else sys.executable


def run_block(bin_path: Path, doc: str, lang: str, body: str, line: int) -> None:
    where = f"{doc}:{line} ({lang})"
    with tempfile.TemporaryDirectory(prefix="docs-check-") as work:
        port, key = free_port(), "docs-check-" + secrets.token_hex(16)
        log = open(Path(work) / "server.log", "w+")
        env = {"PATH": f"{bin_path.parent}:{os.environ['PATH']}", "HOME": work}
        server = subprocess.Popen([str(bin_path)], cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                  env={**env, "API_SECRET_KEY": key, "PORT": str(port)})
        try:
            deadline = time.monotonic() + 30
            while "listening on" not in Path(log.name).read_text():
                if server.poll() is not None or time.monotonic() > deadline:
                    fail(f"{where}: the server did not start:\n{Path(log.name).read_text()}")
                    return
                time.sleep(0.05)
            script = body.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            command = (["bash", "-e", "-o", "pipefail", "-c", script] if lang in ("sh", "bash")
                       else [python(), "-c", script])
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=120,
                                  env={**env, "SENTIMENT_API_KEY": key})
            if done.returncode != 0:
                fail(f"{where}: exited {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n"
                     f"{done.stderr}")
                return
            lines = done.stdout.splitlines()
            at = 0
            for expected in (m.group(1).rstrip() for m in map(PRINTS.search, body.splitlines()) if m):
                while at < len(lines) and lines[at].rstrip() != expected:
                    at += 1
                if at == len(lines):
                    fail(f"{where}: does not print {expected!r} (in order); it printed:\n{done.stdout}")
                    return
                at += 1
            print(f"ran {where}: ok")
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def main() -> int:
    files = markdown_files()
    links = check_links(files)
    print(f"links: {links} relative links in {len(files)} Markdown files checked")
    print(f"mentions: {check_mentions()} docs/ paths named in code, scripts and .env.example checked")
    check_sizes_and_dates(files)
    blocks = runnable_blocks()
    if not blocks:
        fail("no block is marked `run`: the examples are not checked")
    if "--run" in sys.argv[1:]:
        bin_path = binary()
        for doc, lang, body, line in blocks:
            run_block(bin_path, doc, lang, body, line)
    else:
        print(f"{len(blocks)} runnable blocks found (run them with --run)")
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
