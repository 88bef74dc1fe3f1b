#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/seeds/<target>/) and VADER's dictionary
(fuzz/vader.dict) from the tests' fixtures and the model's tables. Deterministic: run it again
after a fixture changes and commit what changes.

    python3 fuzz/seeds.py
"""
import hashlib
import json
import re
import shutil
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
VADER = ROOT / "src/model/vader"

GOOD_HASH = hashlib.sha256(b"k-0123456789abcdef").hexdigest()
OTHER_HASH = hashlib.sha256(b"k2-0123456789abcdef").hexdigest()


def write(target, inputs):
    out = FUZZ / "seeds" / target
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for data in inputs:
        data = data.encode() if isinstance(data, str) else data
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    print(f"{target}: {len(set(inputs))} seeds")


def dict_entry(word):
    """A libFuzzer dictionary line: printable ASCII as is, backslash and quote escaped, else hex."""
    out = ""
    for b in word.encode():
        c = chr(b)
        out += "\\" + c if c in '\\"' else c if 0x20 <= b < 0x7F else f"\\x{b:02X}"
    return f'"{out}"'


def vader():
    texts = [json.loads(l)["text"] for l in open(ROOT / "tests/fixtures/vader_reference.jsonl")]
    # Every non-ASCII text (the fallback's side) and every fifth ASCII one.
    ascii_texts = [t for t in texts if t.isascii()]
    chosen = [t for t in texts if not t.isascii()] + ascii_texts[::5]
    write("vader_differential", chosen)

    words = set(l.strip() for l in open(VADER / "negate.txt") if l.strip())
    tables = (VADER / "lexicon.rs").read_text()
    words |= set(re.findall(r'^\s*\("([^"]+)", (?:B_INCR|B_DECR|[0-9.]+, (?:true|false))\)', tables, re.M))
    lexicon = [l.split("\t")[0] for l in open(VADER / "vader_lexicon.txt", encoding="utf-8")]
    # The emoticons (the file's first lines) and every 20th word.
    words |= set(w for w in lexicon if w.isascii() and not w[:1].isalpha())
    words |= set(w for w in lexicon[::20] if w.isascii())
    words |= {"but", "BUT", "least", "at least", "very least", "kind of", "no", "never so",
              "without", "doubt", "!", "!!!", "?", "???", "?!", " ", "\t", "\x0b", "\x1c", "'s"}
    escaped = sorted(dict_entry(w) for w in words)
    (FUZZ / "vader.dict").write_text(
        "# VADER's negations, boosters, idioms, emoticons and a sample of its lexicon (fuzz/seeds.py)\n"
        + "".join(f"{w}\n" for w in escaped))
    print(f"vader.dict: {len(escaped)} entries")


# The JSON bodies of the tests (src/http/json_body.rs's cases, tests/api's requests).
BODIES = [
    "not json", " ", '{"text": "a"} x', '{"text" 1}', "{'text': 1}", '{"é": x}',
    '{"text": "abc', '{"a":1', "[1", "{", "[1,]", '{"text": -}', '{"a":', "[", '{"text"',
    '{"a":1,', '{"a":"x"', '["a"', '{"t": "é" x}', '{"text": "I love it"}',
    '{"text": "great", "model": "tfidf"}', '{"text": null}', "null", '{"text": 5}',
    '{"texts": ["good", "bad"]}', '{"texts": []}', '{"texts": "a"}', '{"texts": ["a", 5, null]}',
    '{"texts": ["a"], "model": "nope"}', '{"text": "\\ud800"}', '{"a": 1e999}', "[[[[[[[[1]]]]]]]]",
    '\ufeff{"text": "bom"}', '{"text": "tab\tinside"}', '{"text": "\\u00e9\\n"}',
    # Found by the fuzzer: a bad \u escape before multi-byte characters.
    '{"\\uЊϓ',
]


def json_body():
    write("json_body", BODIES + [b"\xff\xfe{}", b'{"text": "\xc3"}'])


def batch_validation():
    # Two limit bytes (MAX_BATCH_SIZE 1-8, MAX_TEXT_CHARS 1-16), then the body.
    bodies = [b for b in BODIES if "texts" in b] + [
        '{"texts": ["' + "é" * 20 + '", "ok"]}', '{"texts": ["a","b","c","d","e","f","g","h","i"]}',
        '{"texts": ["a"], "model": null}', '{"texts": ["a"], "model": 5}', '{"model": "vader"}', "[]",
    ]
    write("batch_validation", [bytes([3, 9]) + b.encode() for b in bodies])


def keys_file():
    entry = lambda extra="", id="a", h=GOOD_HASH: f'[[keys]]\nid = "{id}"\nsha256 = "{h}"\n{extra}'
    files = [
        entry('expires_at = "2030-01-01T00:00:00Z"\nowner = "Alice"\nnote = "laptop"\n'
              "rate_limit_per_minute = 5\nrate_limit_burst = 2\n")
        + entry("enabled = false\n", id="bob", h="sha256:" + OTHER_HASH),
        '[[keys]]\nid = "a"\n', entry('expire_at = "x"\n'), entry(id="a b"), entry(h="abc"),
        entry('expires_at = "tomorrow"\n'), entry() + entry(h=OTHER_HASH), entry() + entry(id="b"),
        entry("rate_limit_per_minute = 0\n"), entry("rate_limit_per_minute = 2\nrate_limit_burst = 3\n"),
        "this is not toml", entry('scopes = ["predict"]\n'), entry('scopes = ["admin"]\n'),
        entry(h="sk_MyRealSecretKey0123456789"), "", "keys = []\n",
    ]
    pasted = ["sk_MyRealSecretKey0123456789", "abc", GOOD_HASH, "sha256:" + GOOD_HASH[:60], "é" * 64]
    # First byte odd: a whole file; even: the sha256 value of a good entry.
    write("keys_file", [b"\x01" + f.encode() for f in files] + [b"\x00" + p.encode() for p in pasted])


def proxies():
    # Lines: TRUSTED_PROXIES, the peer, then X-Forwarded-For values.
    cases = [
        "10.0.0.0/8, ::1\n10.1.2.3\n6.6.6.6, 203.0.113.9, 10.0.0.7",
        "10.0.0.0/8, ::1\n198.51.100.1\n203.0.113.9",
        "10.0.0.0/8\n10.1.2.3\n203.0.113.1\n10.0.0.8, 10.0.0.9",
        "10.0.0.0/8\n10.1.2.3\n203.0.113.1\nnot-an-ip, 10.0.0.9",
        "10.0.0.0/8\n10.1.2.3\n203.0.113.1\n\0",
        "10.0.0.0/33\n", "proxy.local\n", "\n", "0.0.0.0/0, ::/0\n::1\n2001:db8::1, 10.0.0.1",
        "192.168.0.0/16,fe80::/10\nfe80::1\n::ffff:192.168.1.1",
    ]
    write("proxies", cases)


if __name__ == "__main__":
    vader()
    json_body()
    batch_validation()
    keys_file()
    proxies()
