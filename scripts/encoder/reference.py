#!/usr/bin/env python3
"""An independent reference for the `encoder` feature: all-MiniLM-L6-v2 sentence embeddings computed
with numpy alone, to check the Rust (candle + tokenizers) pipeline against.

    target/encoder-venv/bin/python scripts/encoder/reference.py MODEL_DIR > tests/fixtures/encoder_reference.jsonl

(`scripts/encoder/train_head.py` creates that venv from scripts/encoder/requirements.txt.)

Nothing here shares code with the Rust side: the tokenizer is BERT's original BasicTokenizer +
WordPiece written out in plain Python from vocab.txt (not the `tokenizers` library the Rust side
uses), the weights are read with the `safetensors` package's numpy API, and the forward pass is
written out in numpy in float64 (the Rust side runs candle in float32). Each text is encoded on its
own, with no padding. The pipeline is sentence-transformers': truncation to `max_seq_length` word
pieces ([CLS] and [SEP] included) from sentence_bert_config.json, BERT, mean pooling over the
tokens, L2 normalisation.

Output: one JSON object a line, {"text", "tokens" (word-piece count, [CLS]/[SEP] included),
"embedding" (384 floats, 7 significant digits)}, for the texts in TEXTS below.
"""

import json
import sys
import unicodedata
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf

# Varied on purpose: short and long (past the 256-piece limit), punctuation, accents, other
# scripts, emoji, control characters, the empty string and whitespace.
TEXTS = [
    "",
    "   ",
    "good",
    "The soup was good.",
    "The service was slow and the food arrived cold, but the waiter apologised and the dessert was excellent.",
    "I didn't like it at all!!! :(",
    "NOT BAD AT ALL, honestly the best purchase I've made this year :-)",
    "Café crème, naïve résumé, Ångström, Straße, İstanbul",
    "東京は素晴らしい都市です。食べ物がおいしい！",
    "Привет, мир! Это было ужасно.",
    "مرحبا بالعالم، هذا رائع",
    "I love it 😍😍 🔥🔥🔥 best day ever 🎉",
    "meh 🤷‍♀️ whatever",
    "tab\tseparated\tand\u0000control\u0007chars\u200b here",
    "unbelievably-hyphenated-words and e-mail@example.com http://example.org/path?q=1",
    "Supercalifragilisticexpialidocious " * 3,
    "a" * 150,
    "It was the best of times, it was the worst of times. " * 30,
    " ".join(f"word{i}" for i in range(300)),
    "The movie's plot is predictable, the acting wooden, and yet I could not stop watching; "
    "somehow it works, and the final twenty minutes are genuinely moving.",
]


def load_vocab(path: Path) -> dict:
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for index, line in enumerate(f):
            vocab[line.rstrip("\n")] = index
    return vocab


def is_whitespace(ch: str) -> bool:
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch: str) -> bool:
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_tokenize(text: str) -> list:
    """BERT's BasicTokenizer (do_lower_case=True, tokenize_chinese_chars=True, accents stripped)."""
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        cleaned.append(" " if is_whitespace(ch) else ch)
    spaced = []
    for ch in cleaned:
        if is_cjk(ord(ch)):
            spaced.extend((" ", ch, " "))
        else:
            spaced.append(ch)
    tokens = []
    for word in "".join(spaced).split():
        word = word.lower()
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        current = []
        for ch in word:
            if is_punctuation(ch):
                if current:
                    tokens.append("".join(current))
                    current = []
                tokens.append(ch)
            else:
                current.append(ch)
        if current:
            tokens.append("".join(current))
    return tokens


def wordpiece(token: str, vocab: dict, max_chars: int = 100) -> list:
    """Greedy longest-match-first WordPiece, '##' continuation prefix."""
    if len(token) > max_chars:
        return ["[UNK]"]
    pieces = []
    start = 0
    while start < len(token):
        end = len(token)
        piece = None
        while start < end:
            candidate = token[start:end]
            if start > 0:
                candidate = "##" + candidate
            if candidate in vocab:
                piece = candidate
                break
            end -= 1
        if piece is None:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def encode(text: str, vocab: dict, max_len: int) -> list:
    pieces = [p for token in basic_tokenize(text) for p in wordpiece(token, vocab)]
    pieces = ["[CLS]"] + pieces[: max_len - 2] + ["[SEP]"]
    return [vocab[p] for p in pieces]


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class Bert:
    def __init__(self, model_dir: Path):
        self.config = json.loads((model_dir / "config.json").read_text())
        raw = load_file(str(model_dir / "model.safetensors"))
        self.w = {k: v.astype(np.float64) for k, v in raw.items() if v.dtype == np.float32}

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def forward(self, ids: list) -> np.ndarray:
        c, w = self.config, self.w
        eps = c["layer_norm_eps"]
        heads = c["num_attention_heads"]
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        d = x.shape[1] // heads
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q = self.linear(x, p + "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
            k = self.linear(x, p + "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
            v = self.linear(x, p + "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, heads * d)
            attn = self.linear(context, p + "attention.output.dense")
            x = layer_norm(x + attn, w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"], eps)
            h = self.linear(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))  # exact (erf) GELU, BERT's "gelu"
            out = self.linear(h, p + "output.dense")
            x = layer_norm(x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        return x


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    model_dir = Path(sys.argv[1])
    max_len = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    vocab = load_vocab(model_dir / "vocab.txt")
    bert = Bert(model_dir)
    for text in TEXTS:
        ids = encode(text, vocab, max_len)
        hidden = bert.forward(ids)
        pooled = hidden.mean(axis=0)  # no padding: every token counts
        embedding = pooled / max(np.linalg.norm(pooled), 1e-12)
        record = {
            "text": text,
            "tokens": len(ids),
            "embedding": [float(f"{x:.7g}") for x in embedding],
        }
        print(json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
