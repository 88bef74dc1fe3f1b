#!/usr/bin/env python3
"""Train the service's embedded learned sentiment model and write its artifact.

Usage:

    python3 scripts/learned/train.py [--check | --fixture] [DATA_DIR]

The model: TF-IDF over word 1-2-grams and char_wb 2-5-grams (sublinear tf, l2 per block, min_df 2),
VADER's four scores, five indicators of its compound and the compound times four style marks (all
scaled by VADER_SCALE), and a logistic regression (liblinear, C=C), trained on every binary item
(|human mean| >= 0.5) of the four VADER ground-truth sets in DATA_DIR (default
$VADER_GROUND_TRUTH_DIR; the sets are not in the repository). VADER's scores come from the service's own
Rust VADER (`cargo run --quiet --example vader_features`), so training and inference see identical
features. The artifact also carries two neutral bands on the decision value (for texts where VADER's
compound is 0, and the rest), fitted by 5-fold CV over
every item (human neutral: |mean| < NEUTRAL_MEAN) to maximise 3-class macro-F1 (fit_bands;
scripts/learned/neutral.py reports it against VADER).

Writes (all committed, all byte-reproducible on one machine):
  src/model/learned/weights.bin   the model (format: docs/internals/models.md, src/model/learned/weights.rs)
  src/model/learned/tables.rs     Python's own Unicode tables for str.lower, re's \\w and \\s, so the
                                  Rust tokenizer splits and lowercases exactly as this Python does
  --fixture also writes tests/fixtures/learned_reference.jsonl: sklearn's probability for texts the
  training did not see, which tests/learned_model.rs holds the Rust inference to (1e-6).

--check retrains and compares the three files with the committed ones: exit 1 on any difference.

It runs in a venv of its own at target/learned-venv (under $CARGO_TARGET_DIR if set), created from
scripts/learned/requirements.txt on the first run and reused while it holds exactly those pins. The
script re-executes itself there with one BLAS/OpenMP thread and a fixed hash seed.
Exit status: 0 done, 1 --check found a difference, 2 could not run.
"""

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vader_parity import CheckError, read_records, rust_example_lines  # noqa: E402  (the path above first)

REPO = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = Path(os.environ.get("VADER_GROUND_TRUTH_DIR", "vader_ground_truth"))
REQUIREMENTS = HERE / "requirements.txt"
WEIGHTS = REPO / "src" / "model" / "learned" / "weights.bin"
TABLES = REPO / "src" / "model" / "learned" / "tables.rs"
FIXTURE = REPO / "tests" / "fixtures" / "learned_reference.jsonl"

# The sets, in a fixed order: (short name, file).
SETS = [
    ("tweets", "tweets_GroundTruth.txt"),
    ("movie", "movieReviewSnippets_GroundTruth.txt"),
    ("amazon", "amazonReviewSnippets_GroundTruth.txt"),
    ("nyt", "nytEditorialSnippets_GroundTruth.txt"),
]

# Hyper-parameters (docs/internals/models.md says how they were chosen).
C = 4.0
MIN_DF = 2  # a term must occur in at least 2 training texts: prunes the artifact
VADER_SCALE = 3.0
COMPOUND_THRESHOLDS = (-0.5, -0.05, 0.0, 0.05, 0.5)  # indicator features compound >= t
N_STYLE = 4
MAGIC = b"SALRN003"
# Human neutral: |human mean| < NEUTRAL_MEAN, the items the binary training leaves out.
NEUTRAL_MEAN = 0.5
# The neutral band is searched over decision values z (log-odds) in steps of BAND_STEP up to BAND_MAX
# either side of 0; the band always holds z = 0, so the sign of the score stays the model's lean.
BAND_STEP = 0.05
BAND_MAX = 4.0


# --------------------------------------------------------------------------------------------------
# The venv

def venv_dir() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "learned-venv"


def pinned() -> list:
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()]
    return sorted(line.lower() for line in lines if line and not line.startswith("#"))


def venv_matches(python: Path) -> bool:
    if not python.exists():
        return False
    result = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"], capture_output=True, text=True
    )
    have = sorted(line.strip().lower() for line in result.stdout.splitlines() if line.strip())
    return result.returncode == 0 and have == pinned()


def enter_venv() -> None:
    """Re-executes this script in the venv (creating it when needed); returns only inside it."""
    directory = venv_dir()
    if os.environ.get("LEARNED_VENV") == str(directory):
        return
    python = directory / "bin" / "python"
    if not venv_matches(python):
        print(f"creating {directory} from {REQUIREMENTS.relative_to(REPO)}", file=sys.stderr)
        shutil.rmtree(directory, ignore_errors=True)
        try:
            venv.create(directory, with_pip=True)
        except Exception as err:
            raise CheckError(f"cannot create a venv at {directory}: {err}") from err
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "-r", str(REQUIREMENTS)]
        )
        if install.returncode != 0 or not venv_matches(python):
            shutil.rmtree(directory, ignore_errors=True)
            raise CheckError(f"cannot install {REQUIREMENTS} into {directory}")
    env = dict(os.environ)
    env.update(
        LEARNED_VENV=str(directory), PYTHONHASHSEED="0", OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
    )
    script = Path(sys.argv[0]).resolve()
    os.execve(str(python), [str(python), str(script), *sys.argv[1:]], env)


# --------------------------------------------------------------------------------------------------
# Data

def read_set(path: Path) -> list:
    """The (text, label) binary items of one set: |mean| >= 0.5, label 1 when mean > 0."""
    items = []
    for _, mean, text in read_records(path):
        mean = float(mean)
        if abs(mean) >= 0.5:
            items.append((text, 1 if mean > 0 else 0))
    return items


def load(data_dir: Path):
    """texts, labels, domain index (into SETS) of every binary item."""
    texts, labels, domains = [], [], []
    for index, (_, file_name) in enumerate(SETS):
        path = data_dir / file_name
        if not path.is_file():
            raise CheckError(f"no {file_name} in {data_dir}")
        for text, label in read_set(path):
            texts.append(text)
            labels.append(label)
            domains.append(index)
    return texts, labels, domains


def load_all(data_dir: Path):
    """texts, human means, domain index (into SETS) of every item, neutral ones included."""
    texts, means, domains = [], [], []
    for index, (_, file_name) in enumerate(SETS):
        path = data_dir / file_name
        if not path.is_file():
            raise CheckError(f"no {file_name} in {data_dir}")
        for _, mean, text in read_records(path):
            texts.append(text)
            means.append(float(mean))
            domains.append(index)
    return texts, means, domains


def human_class(means):
    """0 negative (mean <= -NEUTRAL_MEAN), 1 neutral (|mean| < NEUTRAL_MEAN), 2 positive."""
    import numpy as np

    means = np.asarray(means, dtype=np.float64)
    return np.where(means >= NEUTRAL_MEAN, 2, np.where(means <= -NEUTRAL_MEAN, 0, 1))


def vader_scores(texts: list) -> list:
    """(compound, pos, neu, neg) of each text, from the service's Rust VADER."""
    payload = "".join(json.dumps(text) + "\n" for text in texts).encode("ascii")
    lines = rust_example_lines("vader_features", payload, len(texts))
    scores = []
    for index, line in enumerate(lines):
        fields = line.split("\t")
        if len(fields) != 4:
            raise CheckError(f"vader_features: bad line {index}: {line!r}")
        scores.append(tuple(float(x) for x in fields))
    return scores


# --------------------------------------------------------------------------------------------------
# The model

def style(text: str) -> list:
    """Four 0/1 marks of social-media style, each defined on ASCII so Rust computes the same: a '!',
    a non-ASCII character, at most 12 words (str.split()), a shouted word (>= 2 ASCII capitals and
    no ASCII small letter). docs/internals/models.md says why not also an emoticon or a '@' / '#' / 'http'."""
    words = text.split()
    shouted = any(
        sum("A" <= c <= "Z" for c in w) >= 2 and not any("a" <= c <= "z" for c in w) for w in words
    )
    return [
        float("!" in text),
        float(any(ord(c) > 127 for c in text)),
        float(len(words) <= 12),
        float(shouted),
    ]


def vader_block(scores, texts):
    """The VADER features, times VADER_SCALE: compound, pos, neu, neg; compound >= t for each threshold;
    compound times each style mark (so the model can learn where to trust VADER: tweets)."""
    import numpy as np

    v = np.asarray(scores, dtype=np.float64).reshape(-1, 4)
    compound = v[:, 0]
    indicators = [(compound >= t).astype(np.float64) for t in COMPOUND_THRESHOLDS]
    marks = np.asarray([style(t) for t in texts], dtype=np.float64).reshape(-1, N_STYLE)
    return np.column_stack([v, *indicators, compound[:, None] * marks]) * VADER_SCALE


class Model:
    """Two TF-IDF vectorizers, the VADER block, and the logistic regression."""

    def __init__(self, c=C, min_df=MIN_DF, block=None):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        import numpy as np

        self.words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, dtype=np.float64)
        self.chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df, dtype=np.float64
        )
        self.classifier = LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=0)
        # The non-lexical features; evaluate.py swaps in variants, export() needs the default.
        self.block = block or vader_block
        # The neutral bands on the decision value ((low, high) where VADER's compound != 0, and
        # where it is 0), set by train() from cross-validation.
        self.band = None

    def features(self, texts, scores, fit=False):
        import scipy.sparse as sp

        if fit:
            words = self.words.fit_transform(texts)
            chars = self.chars.fit_transform(texts)
        else:
            words = self.words.transform(texts)
            chars = self.chars.transform(texts)
        return sp.hstack([words, chars, sp.csr_matrix(self.block(scores, texts))]).tocsr()

    def fit(self, texts, scores, labels):
        self.classifier.fit(self.features(texts, scores, fit=True), labels)
        return self

    def probability(self, texts, scores):
        """P(positive) of each text, as sklearn computes it."""
        return self.classifier.predict_proba(self.features(texts, scores))[:, 1]


def export(model: Model) -> bytes:
    """The artifact: see `src/model/learned/weights.rs` for the format."""
    if model.block is not vader_block:
        raise CheckError("only the default VADER block can be exported")
    coef = model.classifier.coef_[0]
    n_words = len(model.words.vocabulary_)
    n_chars = len(model.chars.vocabulary_)
    n_vader = 4 + len(COMPOUND_THRESHOLDS) + N_STYLE
    if coef.shape[0] != n_words + n_chars + n_vader:
        raise CheckError("coefficient count does not match the features")
    out = bytearray(MAGIC)
    out += struct.pack("<IIII", n_words, n_chars, n_vader, len(COMPOUND_THRESHOLDS))
    out += struct.pack("<dd", float(model.classifier.intercept_[0]), VADER_SCALE)
    out += struct.pack("<dddd", *model.band[0], *model.band[1])
    out += struct.pack(f"<{len(COMPOUND_THRESHOLDS)}d", *COMPOUND_THRESHOLDS)
    out += struct.pack(f"<{n_vader}d", *[float(x) for x in coef[n_words + n_chars:]])
    offset = 0
    for vectorizer in (model.words, model.chars):
        terms = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
        assert [index for _, index in terms] == list(range(len(terms)))
        idf = vectorizer.idf_
        for term, index in terms:
            encoded = term.encode("utf-8")
            if len(encoded) > 0xFFFF:
                raise CheckError(f"term too long: {term[:40]!r}")
            out += struct.pack("<H", len(encoded)) + encoded
            out += struct.pack("<dd", float(idf[index]), float(coef[offset + index]))
        offset += len(terms)
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Python's Unicode tables, for the Rust tokenizer

def ranges(predicate) -> list:
    found, start = [], None
    for cp in range(0x110000 + 1):
        inside = cp < 0x110000 and not (0xD800 <= cp <= 0xDFFF) and predicate(chr(cp))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            found.append((start, cp - 1))
            start = None
    return found


def unicode_tables() -> str:
    import re
    import unicodedata

    word = re.compile(r"\w")
    space = re.compile(r"\s")
    for cp in range(0x110000):
        ch = chr(cp)
        # re's \s, str.split() and str.isspace() must agree for the Rust side to use one table.
        if bool(space.match(ch)) != ch.isspace() or (len(("a" + ch + "b").split()) == 2) != ch.isspace():
            raise CheckError(f"\\s and str.split disagree on U+{cp:04X}")
    word_ranges = ranges(lambda ch: word.match(ch) is not None)
    space_chars = [start for start, end in ranges(str.isspace) for start in range(start, end + 1)]

    lower = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp == 0x3A3:
            continue
        mapped = chr(cp).lower()
        if mapped != chr(cp):
            if len(mapped) > 2:
                raise CheckError(f"U+{cp:04X} lowers to {len(mapped)} characters")
            lower.append((cp, ord(mapped[0]), ord(mapped[1]) if len(mapped) == 2 else 0))

    # Final sigma: str.lower() maps U+03A3 to U+03C2 when the nearest non-case-ignorable character
    # before it is cased and none after it is. Classes from probing lower() itself.
    def sigma_final(text, at):
        return text.lower()[at] == "\u03c2"

    ignorable, cased = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        s = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"  # ignorable or cased
        t = (ch + "\u03a3").lower()[-1] == "\u03c2"  # cased and not ignorable
        if s and not t:
            ignorable.append(cp)
        elif t:
            cased.append(cp)
    assert sigma_final("A\u03a3", 1) and not sigma_final("\u03a3", 0)

    def compress(cps):
        out = []
        for cp in cps:
            if out and out[-1][1] == cp - 1:
                out[-1] = (out[-1][0], cp)
            else:
                out.append((cp, cp))
        return out

    def range_table(name, doc, rows):
        lines = [f"/// {doc}", "#[rustfmt::skip]", f"pub(super) static {name}: &[(u32, u32)] = &["]
        lines += [f"    (0x{a:X}, 0x{b:X})," for a, b in rows]
        return lines + ["];", ""]

    lines = [
        "//! Python's Unicode tables, generated by `scripts/learned/train.py` (do not edit): the learned model's",
        "//! tokenizer lowercases and splits exactly as the Python that trained it, whatever Rust's own",
        f"//! Unicode version. Python {sys.version_info.major}.{sys.version_info.minor}, "
        f"Unicode {unicodedata.unidata_version}.",
        "",
    ]
    lines += range_table("WORD", "Characters `re`'s `\\w` matches (str.isalnum() or '_'), inclusive ranges.", word_ranges)
    lines += ["/// Characters `re`'s `\\s` and `str.split()` treat as whitespace.", "#[rustfmt::skip]",
              "pub(super) static SPACE: &[u32] = &["]
    lines += [f"    0x{cp:X}," for cp in space_chars]
    lines += ["];", ""]
    lines += ["/// `str.lower()` of each character it changes (but U+03A3): one or two characters (0: none).",
              "#[rustfmt::skip]", "pub(super) static LOWER: &[(u32, u32, u32)] = &["]
    lines += [f"    (0x{a:X}, 0x{b:X}, 0x{c:X})," for a, b, c in lower]
    lines += ["];", ""]
    lines += range_table("CASE_IGNORABLE", "Case-ignorable characters, for the final sigma rule of `str.lower()`.",
                         compress(ignorable))
    lines += range_table("CASED", "Cased characters (not case-ignorable), for the final sigma rule.", compress(cased))
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------------
# The fixture: texts the training did not see

HAND_WRITTEN = [
    "", " ", "   ", "\t\n", "\r\n\r\n", "\u3000\u3000", "\x1c\x1d\x1e\x1f", "a", "ab", "_", "__", "a_b c_d",
    "12345", "2024 was 10x better than 2023", "3.14 2,000 1e9", "!!!", "?!?!", "...", ":)", ":(", ":-D", "<3",
    "\U0001f600", "\U0001f621\U0001f621", "\U0001f44d\U0001f3fd great", "\U0001f468\u200d\U0001f469\u200d\U0001f467 family day",
    "I love this phone, the battery lasts forever!",
    "I do not love this phone. The battery dies by noon.",
    "Not bad at all, honestly.",
    "This is not good, not good at all.",
    "The soup was great, but the service was painfully slow!",
    "Worst purchase I have made in years; returned it the next day.",
    "An absolute masterpiece of quiet, patient storytelling.",
    "The plot is thin and the jokes fall flat, yet the lead is charming.",
    "meh. it's ok i guess",
    "OMG best concert EVER!!! #blessed @thebandofficial",
    "ugh mondays \U0001f612 #fail",
    "lol that was sooo funny :D",
    "Can't believe they cancelled the show. So sad :(",
    "The senators argued for hours and agreed on nothing, again.",
    "Critics say the policy will hurt the poorest families the most.",
    "The city's new park is a triumph of thoughtful design.",
    "Das Essen war ausgezeichnet, aber die Bedienung war unfreundlich.",
    "STRASSE, Straße, STRAẞE und Fußgänger",
    "Le film était magnifique, je l'ai adoré !",
    "Très décevant. Je ne recommande pas.",
    "¡Qué maravilla! Me encantó la película.",
    "Es una pérdida de tiempo y dinero.",
    "Çok güzel bir gün, İstanbul harika!",
    "İYİ değil, ISPARTA ıssız, İİİ",
    "Iİıi İi",
    "ΟΔΟΣ ΟΔΟΣ. Σ ΣΑΣ ΣΟΦΟΣ'Σ",
    "Ελλάδα είναι ΌΜΟΡΦΗ ΧΏΡΑ",
    "Это был ужасный день, но вечер был прекрасен.",
    "Отличный товар, всем рекомендую!",
    "这部电影非常好看，我很喜欢。",
    "服务太差了，再也不来了",
    "とても良い商品でした！また買いたいです。",
    "최고의 영화였어요 정말 감동적이에요",
    "هذا المنتج رائع جداً وأنصح به",
    "كِتَابٌ جَمِيلٌ",
    "यह फ़िल्म बहुत अच्छी थी",
    "שירות מצוין, תודה רבה",
    "Cafe\u0301 na\u0131\u0308ve re\u0301sume\u0301",
    "café naïve résumé",
    "ﬁne ﬂowers ﬀ",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ ｉｓ ｇｏｏｄ",
    "Ⅻ ⅻ ² ½ ³⁄₄ ١٢٣ ๑๒๓",
    "ᏣᎳᎩ ꮳꮃꭹ Ᏸ",
    "Აბგ ᲐᲑᲒ აბგ",
    "𐐀𐐁 𐐨𐐩 deseret",
    "x\u0345y \u0399\u0345",
    "tab\tseparated\tvalues are fine",
    "line one\nline two\u2028line three\u2029para\x85next",
    "non\u00a0breaking\u2009thin\u202fspaces",
    "zero\u200bwidth\u200cjoiner\u200dtest",
    "soft\u00adhyphen",
    "snake_case_identifier and __dunder__ names",
    "email me at someone@example.com or visit https://example.com/page?x=1",
    "$$$ 100% ### *** ---",
    "a b c d e f g h i j",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Goooooood", "BAD BAD BAD", "good good good good good good",
    "the the the the",
    "\ufffd\ufffd broken bytes \ufffd",
    "ｶﾀｶﾅ ﾃｽﾄ",
    "Mixed РУССКИЙ and English SHOUTING",
    "It was fine. Not great, not terrible.",
    "I wanted to like it, but I couldn't.",
    "Never again. Never.",
    "Five stars! Would buy again.",
    "One star. Broke after a week.",
    "The acting is wooden and the script is a mess.",
    "A warm, funny, and deeply human film.",
    "Too long, too loud, too dumb.",
    "Surprisingly, the sequel is better than the original.",
    "The editorial board is right to demand accountability.",
    "This decision is a disgrace to the court.",
    "Prices rose again this quarter.",
    "Kind of disappointing tbh",
    "not sure how I feel about this",
    "I'm SO happy right now!!!",
    "hate hate hate this weather",
    "the wait staff were lovely and attentive",
    "Customer service never answered my emails.",
    "The camera is sharp, the screen is gorgeous, and the speakers are weak.",
    "Works as described.",
    "Does exactly what it says on the tin, nothing more.",
    "What a waste of two hours.",
    "I laughed, I cried, I'll watch it again.",
    "Hardly the disaster critics claimed.",
    "Without a doubt the finest novel of the decade.",
    "No problems at all",
    "At least it was cheap.",
    "Hello!!!",
    "GREAT",
    "great",
    "not great",
    "isn't it great?",
    "\U0001f525\U0001f525\U0001f525 fire album",
    "\U0001f62d\U0001f62d\U0001f62d",
    "\u2764\ufe0f\u2764\ufe0f love you all",
    "RT @user: this is the best news all week! http://t.co/abc",
    "#MondayMotivation you got this \U0001f4aa",
    "@airline lost my bag AGAIN. thanks for nothing.",
]

WORDS = {
    "pos": ["good", "great", "excellent", "lovely", "wonderful", "fun", "brilliant", "happy", "enjoyable", "perfect"],
    "neg": ["bad", "awful", "terrible", "boring", "dull", "broken", "sad", "annoying", "poor", "horrible"],
    "subj": ["The movie", "This product", "The hotel", "Our waiter", "The new law", "My phone", "The book",
             "This album", "The ending", "The delivery"],
    "pre": ["", "really ", "not ", "very ", "not very ", "quite ", "extremely ", "kind of ", "never ", "so "],
    "tail": ["", ".", "!", "!!", " :)", " :(", " \U0001f600", " \U0001f620", "?", " lol", " #fail", " #win"],
}


def fixture_texts(seen: set) -> list:
    rng = random.Random(14)
    texts = list(HAND_WRITTEN)
    while len(texts) < 260:
        subject = rng.choice(WORDS["subj"])
        adjective = rng.choice(WORDS[rng.choice(["pos", "neg"])])
        text = f"{subject} was {rng.choice(WORDS['pre'])}{adjective}{rng.choice(WORDS['tail'])}"
        if rng.random() < 0.3:
            text += f" but {rng.choice(WORDS['subj']).lower()} was {rng.choice(WORDS['pos'] + WORDS['neg'])}"
        if rng.random() < 0.2:
            text = text.upper()
        if text not in texts:
            texts.append(text)
    # Random code points: every script and symbol the tables cover, case pairs and whitespace.
    while len(texts) < 300:
        chars = []
        for _ in range(rng.randrange(1, 40)):
            roll = rng.random()
            if roll < 0.2:
                chars.append(" ")
            elif roll < 0.5:
                chars.append(chr(rng.randrange(0x41, 0x7B)))
            elif roll < 0.8:
                chars.append(chr(rng.randrange(0xC0, 0x3000)))
            else:
                cp = rng.randrange(0x3000, 0x110000)
                while 0xD800 <= cp <= 0xDFFF:
                    cp = rng.randrange(0x3000, 0x110000)
                chars.append(chr(cp))
        texts.append("".join(chars).replace("\n", " "))
    long_words = " ".join(HAND_WRITTEN[26:60]).split()
    texts.append(" ".join(long_words[i % len(long_words)] for i in range(2000)))
    texts = [t for t in texts if t not in seen]
    if len(set(texts)) != len(texts):
        raise CheckError("the fixture holds a text twice")
    return texts


def label(z: float, evidence: bool, silent: bool, bands) -> str:
    """The service's label: positive at z >= the band's top, negative at z <= its bottom, neutral in
    between or without evidence (the score is mapped so VADER's +-0.05 thresholds fall on the band);
    the band is bands[1] when VADER's compound is 0 (`silent`), else bands[0]."""
    return ["negative", "neutral", "positive"][int(predict_bands(z, evidence, silent, bands))]


def evidence(model: Model, texts: list, scores: list) -> list:
    """Whether each text holds an n-gram of the vocabulary or a VADER compound other than 0
    (without either, the probability is only the prior and the service says neutral)."""
    known = model.words.transform(texts).getnnz(axis=1) + model.chars.transform(texts).getnnz(axis=1)
    return [bool(k > 0) or s[0] != 0.0 for k, s in zip(known, scores)]


def fixture(model: Model, texts: list) -> bytes:
    scores = vader_scores(texts)
    probabilities = model.probability(texts, scores)
    decisions = model.classifier.decision_function(model.features(texts, scores))
    lines = []
    rows = zip(texts, probabilities, decisions, evidence(model, texts, scores), quiet(scores))
    for text, p, z, e, silent in rows:
        record = {"text": text, "p": float(p), "evidence": e, "label": label(float(z), e, bool(silent), model.band)}
        lines.append(json.dumps(record, ensure_ascii=True))
    return ("\n".join(lines) + "\n").encode("ascii")


# --------------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------------
# The neutral band

def out_of_fold(texts, scores, classes, domains):
    """5-fold CV over every item (folds stratified by set and human class, seed 0): each item's
    decision value z and evidence flag from a model trained, as the shipped one, on the binary items
    of the other four folds; also the fold of each item."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    z = np.zeros(len(texts))
    known = np.zeros(len(texts), dtype=bool)
    fold_of = np.zeros(len(texts), dtype=np.int64)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for k, (fit, held_out) in enumerate(folds.split(texts, np.asarray(domains) * 3 + classes)):
        fit = fit[classes[fit] != 1]
        model = Model().fit([texts[i] for i in fit], [scores[i] for i in fit], (classes[fit] == 2).astype(np.int64))
        held_texts, held_scores = [texts[i] for i in held_out], [scores[i] for i in held_out]
        z[held_out] = model.classifier.decision_function(model.features(held_texts, held_scores))
        known[held_out] = evidence(model, held_texts, held_scores)
        fold_of[held_out] = k
    return z, known, fold_of


def predict3(z, known, low, high):
    """The service's 3-class label: 0 negative (z <= low), 2 positive (z >= high), else 1 neutral;
    neutral also without evidence."""
    import numpy as np

    return np.where(np.logical_not(known), 1, np.where(z >= high, 2, np.where(z <= low, 0, 1)))


def macro_f1(truth, predicted):
    """Macro-F1 over the three classes (a class never predicted nor true counts 0)."""
    import numpy as np

    confusion = np.bincount(truth * 3 + predicted, minlength=9).reshape(3, 3)
    tp = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    return float(np.mean(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)))


def mean_macro_f1(truth, predicted, domains):
    """The mean over the sets of each set's macro-F1 (what the band maximises)."""
    import numpy as np

    domains = np.asarray(domains)
    return float(np.mean([macro_f1(truth[domains == d], predicted[domains == d]) for d in range(len(SETS))]))


def quiet(scores):
    """Whether VADER finds no sentiment word (compound 0): such texts get a band of their own."""
    import numpy as np

    return np.asarray(scores, dtype=np.float64).reshape(-1, 4)[:, 0] == 0.0


def predict_bands(z, known, silent, bands):
    """predict3 with bands[1] where `silent` (VADER compound 0), bands[0] elsewhere."""
    import numpy as np

    low = np.where(silent, bands[1][0], bands[0][0])
    high = np.where(silent, bands[1][1], bands[0][1])
    return predict3(z, known, low, high)


def fit_bands(z, known, silent, classes, domains):
    """The two bands (VADER compound != 0, == 0) that maximise the mean of the sets' macro-F1: both
    start at fit_band's one band, then each is searched with the other fixed, twice (coordinate
    ascent, deterministic)."""
    steps = int(round(BAND_MAX / BAND_STEP))
    grid = [round(i * BAND_STEP, 10) for i in range(steps + 1)]
    bands = [fit_band(z, known, classes, domains)] * 2
    for _ in range(2):
        for g in (1, 0):
            best, keep = -1.0, bands
            for low in grid:
                for high in grid:
                    trial = list(bands)
                    trial[g] = (-low, high)
                    score = mean_macro_f1(classes, predict_bands(z, known, silent, trial), domains)
                    if score > best:
                        best, keep = score, trial
            bands = keep
    return tuple(bands)


def fit_band(z, known, classes, domains):
    """The band (low, high) on z, low <= 0 <= high, that maximises the mean of the sets' 3-class
    macro-F1 on these decision values; ties go to the narrowest band (the grid's first)."""
    import numpy as np

    steps = int(round(BAND_MAX / BAND_STEP))
    grid = [round(i * BAND_STEP, 10) for i in range(steps + 1)]
    best, band = -1.0, (0.0, 0.0)
    for low in grid:
        for high in grid:
            score = mean_macro_f1(classes, predict3(z, known, -low, high), domains)
            if score > best:
                best, band = score, (-low, high)
    return band


def neutral_band(data_dir: Path):
    """The bands the artifact carries: fitted on every item's out-of-fold decision value."""
    import numpy as np

    texts, means, domains = load_all(data_dir)
    classes = human_class(means)
    scores = vader_scores(texts)
    z, known, _ = out_of_fold(texts, scores, classes, domains)
    return fit_bands(z, known, quiet(scores), classes, np.asarray(domains))


# --------------------------------------------------------------------------------------------------

def train(data_dir: Path):
    texts, labels, _ = load(data_dir)
    scores = vader_scores(texts)
    model = Model().fit(texts, scores, labels)
    model.band = neutral_band(data_dir)
    return model, set(texts)


def main(argv: list) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = {a for a in argv[1:] if a.startswith("--")}
    if flags - {"--check", "--fixture", "--help"} or len(args) > 1 or flags >= {"--check", "--fixture"}:
        print(__doc__, file=sys.stderr)
        return 2
    if "--help" in flags:
        print(__doc__)
        return 0
    enter_venv()
    data_dir = Path(args[0]).resolve() if args else DEFAULT_DATA_DIR.resolve()
    if not data_dir.is_dir():
        raise CheckError(f"no ground truth at {data_dir}")

    model, seen = train(data_dir)
    outputs = {WEIGHTS: export(model), TABLES: unicode_tables().encode("utf-8")}
    if "--check" in flags or "--fixture" in flags or FIXTURE.exists():
        outputs[FIXTURE] = fixture(model, fixture_texts(seen))

    if "--check" in flags:
        differing = [p for p, data in outputs.items() if not p.exists() or p.read_bytes() != data]
        for path in differing:
            print(f"learned model: {path.relative_to(REPO)} is not reproduced by training")
        if not differing:
            print(f"learned model: {', '.join(str(p.relative_to(REPO)) for p in outputs)} reproduced")
        return 1 if differing else 0

    for path, data in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {path.relative_to(REPO)} ({len(data):,} bytes)")
    print(f"features: {len(model.words.vocabulary_):,} word n-grams, {len(model.chars.vocabulary_):,} char n-grams")
    print(f"neutral bands on the decision value: {model.band[0]} (VADER compound != 0), {model.band[1]} (== 0)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CheckError as err:
        print(f"train.py: cannot run: {err}", file=sys.stderr)
        sys.exit(2)
