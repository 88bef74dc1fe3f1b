#!/usr/bin/env python3
"""Evaluate the learned model against VADER on the VADER ground truth; prints markdown tables.

Usage:

    python3 scripts/learned/evaluate.py [--variants] [DATA_DIR]

Binary items only (|human mean| >= 0.5, positive when mean > 0), as scripts/learned/train.py trains.
VADER counts a text positive when its compound >= 0 (so a text without sentiment words is not simply
wrong); the learned model when its probability > 0.5 (sklearn's predict).

- 5-fold cross-validation over all four sets pooled (the shipped model is trained on all four),
  folds stratified by set and label, shuffled with a fixed seed (0): accuracy per set.
- Leave-one-domain-out: train on three sets, test on the fourth.

--variants also evaluates the feature sets tried on the way (docs/internals/models.md): TF-IDF only, TF-IDF
plus VADER's four scores, plus the compound thresholds, and the shipped set (plus the style marks
times compound). Everything is deterministic: rerunning prints the same figures.

Runs in the same venv as train.py (target/learned-venv), and takes VADER's scores from the Rust
VADER the same way. Takes about 2 minutes per feature set on 2 cores.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train  # noqa: E402


def block_tfidf_only(scores, texts):
    import numpy as np

    return np.zeros((len(texts), 0))


def block_scores(scores, texts):
    import numpy as np

    return np.asarray(scores, dtype=np.float64).reshape(-1, 4) * train.VADER_SCALE


def block_thresholds(scores, texts):
    return train.vader_block(scores, texts)[:, : 4 + len(train.COMPOUND_THRESHOLDS)]


VARIANTS = [
    ("TF-IDF only", block_tfidf_only),
    ("TF-IDF + VADER's 4 scores", block_scores),
    ("+ compound thresholds", block_thresholds),
    ("+ compound x 4 style marks (shipped)", None),
]


def accuracy(predicted, labels, domains, domain):
    import numpy as np

    mask = domains == domain
    return float(np.mean(predicted[mask] == labels[mask]))


def cross_validation(texts, scores, labels, domains, block):
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    predicted = np.zeros_like(labels)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for fit, held_out in folds.split(texts, domains * 2 + labels):
        model = train.Model(block=block).fit(
            [texts[i] for i in fit], [scores[i] for i in fit], labels[fit]
        )
        p = model.probability([texts[i] for i in held_out], [scores[i] for i in held_out])
        predicted[held_out] = (p > 0.5).astype(labels.dtype)
    return [accuracy(predicted, labels, domains, d) for d in range(len(train.SETS))]


def leave_one_domain_out(texts, scores, labels, domains, block):
    import numpy as np

    result = []
    for d in range(len(train.SETS)):
        fit = np.flatnonzero(domains != d)
        test = np.flatnonzero(domains == d)
        model = train.Model(block=block).fit(
            [texts[i] for i in fit], [scores[i] for i in fit], labels[fit]
        )
        p = model.probability([texts[i] for i in test], [scores[i] for i in test])
        result.append(float(np.mean((p > 0.5) == labels[test])))
    return result


def row(name, figures, vader=None):
    cells = [f"{x:.3f}" for x in figures]
    mean3 = sum(figures[1:]) / 3
    cells.append(f"{mean3:.3f}")
    if vader is None:
        cells += ["", ""]
    else:
        cells.append(f"{(mean3 - sum(vader[1:]) / 3) * 100:+.1f}")
        cells.append(f"{(figures[0] - vader[0]) * 100:+.1f}")
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = {a for a in argv[1:] if a.startswith("--")}
    if flags - {"--variants", "--help"} or len(args) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    if "--help" in flags:
        print(__doc__)
        return 0
    train.enter_venv()
    import numpy as np

    data_dir = Path(args[0]).resolve() if args else train.DEFAULT_DATA_DIR.resolve()
    texts, labels, domains = train.load(data_dir)
    labels, domains = np.asarray(labels), np.asarray(domains)
    scores = train.vader_scores(texts)
    compound = np.asarray([s[0] for s in scores])
    vader = [accuracy((compound >= 0).astype(labels.dtype), labels, domains, d) for d in range(4)]

    names = [name for name, _ in train.SETS]
    header = "| model | " + " | ".join(names) + " | mean of movie/amazon/nyt | vs VADER (mean) | vs VADER (tweets) |"
    rule = "|---" * (len(names) + 4) + "|"
    counts = ", ".join(f"{n} {int(np.sum(domains == d)):,}" for d, n in enumerate(names))
    print(f"Binary items: {counts}.\n")

    variants = VARIANTS if "--variants" in flags else VARIANTS[-1:]
    cv_rows, lodo_rows = [], []
    for name, block in variants:
        print(f"evaluating {name} ...", file=sys.stderr, flush=True)
        cv_rows.append(row(name, cross_validation(texts, scores, labels, domains, block), vader))
        lodo_rows.append(row(name, leave_one_domain_out(texts, scores, labels, domains, block), vader))

    print("5-fold stratified cross-validation over all four sets (accuracy):\n")
    print(header)
    print(rule)
    print(row("VADER (compound >= 0)", vader))
    print("\n".join(cv_rows))
    print("\nLeave-one-domain-out (train on the other three sets, test on this one):\n")
    print(header)
    print(rule)
    print(row("VADER (compound >= 0)", vader))
    print("\n".join(lodo_rows))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except train.CheckError as err:
        print(f"evaluate.py: cannot run: {err}", file=sys.stderr)
        sys.exit(2)
