#!/usr/bin/env python3
"""3-class macro-F1 of the learned model (tfidf) with its neutral band, against VADER's, on the VADER
ground truth; prints a markdown table.

Usage:

    python3 scripts/learned/neutral.py [DATA_DIR]

Every item of the four sets counts, neutral ones included. Human classes: negative when the human mean
<= -0.5, positive when >= 0.5, neutral in between (train.NEUTRAL_MEAN; the binary training uses the
items outside, so the neutral ones are exactly those it leaves out).

- VADER: the service's labels, compound >= 0.05 positive, <= -0.05 negative, else neutral.
- tfidf: 5-fold cross-validation over every item (folds stratified by set and human class, seed 0);
  each fold's model is trained, as the shipped one, on the binary items of the other folds. The band is
  chosen without the held-out fold: for fold k, train.fit_band on the out-of-fold decision values of
  the other four folds (maximising the mean of the sets' macro-F1), then applied to fold k. One band
  for every text (train.fit_band), and two: one for texts where VADER's compound is 0, one for the
  rest (train.fit_bands, shipped).
- "band fixed at |2p-1| < 0.05": the labels before the band (the same out-of-fold decision values).

Also prints the band the artifact carries (fitted on all out-of-fold values, as train.py does) and the
binary accuracy by sign, which the band does not change. Deterministic; about 2 minutes on 2 cores.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train  # noqa: E402


def main(argv):
    args = argv[1:]
    if len(args) > 1 or any(a.startswith("--") for a in args):
        print(__doc__, file=sys.stderr)
        return 2
    train.enter_venv()
    import numpy as np

    data_dir = Path(args[0]).resolve() if args else train.DEFAULT_DATA_DIR.resolve()
    texts, means, domains = train.load_all(data_dir)
    domains = np.asarray(domains)
    classes = train.human_class(means)
    scores = train.vader_scores(texts)
    compound = np.asarray([s[0] for s in scores])
    print("out-of-fold decision values ...", file=sys.stderr, flush=True)
    z, known, fold_of = train.out_of_fold(texts, scores, classes, domains)

    silent = train.quiet(scores)
    learned, one_band = np.zeros_like(classes), np.zeros_like(classes)
    bands = []
    for k in range(5):
        rest, held = fold_of != k, fold_of == k
        band = train.fit_band(z[rest], known[rest], classes[rest], domains[rest])
        one_band[held] = train.predict3(z[held], known[held], *band)
        pair = train.fit_bands(z[rest], known[rest], silent[rest], classes[rest], domains[rest])
        bands.append(pair)
        learned[held] = train.predict_bands(z[held], known[held], silent[held], pair)
    shipped = train.fit_bands(z, known, silent, classes, domains)
    # Before: compound 2p - 1 with the +-0.05 thresholds, i.e. |z| < logit(0.525).
    edge = float(np.log(0.525 / 0.475))
    before = train.predict3(z, known, -edge, edge)
    vader = np.where(compound >= 0.05, 2, np.where(compound <= -0.05, 0, 1))

    names = [name for name, _ in train.SETS]
    counts = ", ".join(
        f"{n} {int(np.sum(domains == d)):,} ({int(np.sum((domains == d) & (classes == 1))):,} neutral)"
        for d, n in enumerate(names)
    )
    print(f"Items: {counts}. Human neutral: |mean| < {train.NEUTRAL_MEAN}.\n")
    print("3-class macro-F1 (5-fold CV for tfidf):\n")
    print("| model | " + " | ".join(names) + " | mean of 4 |")
    print("|---" * (len(names) + 2) + "|")
    for name, predicted in [
        ("VADER (compound +-0.05)", vader),
        ("tfidf, band fixed at abs(2p-1) < 0.05 (before)", before),
        ("tfidf, one band learned per fold", one_band),
        ("tfidf, two bands (VADER compound != 0 / == 0) learned per fold (**now**)", learned),
    ]:
        per_set = [train.macro_f1(classes[domains == d], predicted[domains == d]) for d in range(len(names))]
        cells = [f"{x:.3f}" for x in per_set] + [f"{np.mean(per_set):.3f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print("bands per held-out fold (low, high on z; compound != 0 then == 0): "
          + ", ".join(f"({a[0]:g}, {a[1]:g}) / ({b[0]:g}, {b[1]:g})" for a, b in bands))
    for name, (lo, hi) in zip(["VADER compound != 0", "VADER compound == 0"], shipped):
        print(f"band the artifact carries, {name}: {lo:g} < z < {hi:g}, "
              f"i.e. {1 / (1 + np.exp(-lo)):.3f} < p < {1 / (1 + np.exp(-hi)):.3f}")
    for name, predicted in [("VADER", vader), ("tfidf (learned band)", learned)]:
        share = [float(np.mean(predicted[domains == d] == 1)) for d in range(len(names))]
        print(f"share labelled neutral, {name}: " + ", ".join(f"{n} {s:.3f}" for n, s in zip(names, share)))
    binary = classes != 1
    sign = [float(np.mean((z[binary & (domains == d)] > 0) == (classes[binary & (domains == d)] == 2)))
            for d in range(len(names))]
    print("binary accuracy by sign (unchanged by the band): " + ", ".join(f"{n} {a:.3f}" for n, a in zip(names, sign)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except train.CheckError as err:
        print(f"neutral.py: cannot run: {err}", file=sys.stderr)
        sys.exit(2)
