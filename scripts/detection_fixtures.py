"""scikit-learn reference values for agon-metrics' detection scores (ROC-AUC, average
precision, accuracy at a threshold).

Regenerate (from the repository root; needs numpy, scikit-learn and torch for the writer):

    /work/torchenv/bin/python scripts/detection_fixtures.py

Versions are recorded in the file's metadata. CI never runs this script: the output is
committed and read by `tests/metrics.rs`. Written with `scripts/_fixture_io.py`, so
regenerating gives identical bytes (inputs from a seeded `numpy.random.default_rng`).

Output: tests/fixtures/detection.safetensors.

Cases (metadata `cases`, comma-separated; metadata `<case>` = `n=<sample count>`)
------------------------------------------------------------------
    overlap   600 scores: generated ~ N(0.6, 0.2), real ~ N(0.4, 0.2), clipped to [0, 1]
    ties      500 scores rounded to one decimal (many ties), generated a little higher
    skewed    90 generated, 910 real (AP far from AUC), logistic scores
    perfect   every generated image above every real one (AUC = AP = 1)
    inverted  every real image above every generated one (AUC = 0)

Tensors (`<case>.<role>`, float32 storage of float64 values the Rust side widens again)
---------------------------------------------------------------------------------------
    scores    [n] detector scores, higher = more likely generated
    is_fake   [n] 1.0 for generated, 0.0 for real
    auc       [1] sklearn.metrics.roc_auc_score(is_fake, scores)
    ap        [1] sklearn.metrics.average_precision_score(is_fake, scores)
    acc       [1] sklearn.metrics.accuracy_score(is_fake, scores > 0.5)

The references are computed from the float32-rounded scores, so both sides see the same
inputs.
"""

import numpy as np
import sklearn
import sklearn.metrics as skm
import torch

from _fixture_io import save_reproducible


def case(rng, name):
    if name == "overlap":
        y = rng.random(600) < 0.5
        s = np.clip(np.where(y, rng.normal(0.6, 0.2, 600), rng.normal(0.4, 0.2, 600)), 0, 1)
    elif name == "ties":
        y = rng.random(500) < 0.4
        s = np.round(np.clip(rng.normal(0.5, 0.25, 500) + 0.1 * y, 0, 1), 1)
    elif name == "skewed":
        y = np.zeros(1000, bool)
        y[rng.choice(1000, 90, replace=False)] = True
        s = 1 / (1 + np.exp(-(rng.normal(0, 1, 1000) + 1.5 * y)))
    elif name == "perfect":
        y = np.arange(40) % 3 == 0
        s = np.where(y, 0.6 + 0.01 * np.arange(40) / 40, 0.1 + 0.3 * rng.random(40))
    else:  # inverted
        y = np.arange(30) % 2 == 0
        s = np.where(y, 0.2 * rng.random(30), 0.7 + 0.2 * rng.random(30))
    s = s.astype(np.float32)
    s64 = s.astype(np.float64)
    return y, s, {
        "auc": skm.roc_auc_score(y, s64),
        "ap": skm.average_precision_score(y, s64),
        "acc": skm.accuracy_score(y, s64 > 0.5),
    }


def main():
    rng = np.random.default_rng(14)
    names = ["overlap", "ties", "skewed", "perfect", "inverted"]
    tensors, meta = {}, {}
    for name in names:
        y, s, ref = case(rng, name)
        tensors[f"{name}.scores"] = torch.from_numpy(s)
        tensors[f"{name}.is_fake"] = torch.from_numpy(y.astype(np.float32))
        for k, v in ref.items():
            tensors[f"{name}.{k}"] = torch.tensor([v], dtype=torch.float32)
        meta[name] = f"n={len(s)}"
        print(f"{name}: n {len(s)}, auc {ref['auc']:.6f}, ap {ref['ap']:.6f}, acc {ref['acc']:.4f}")
    meta["cases"] = ",".join(names)
    meta["sklearn_version"] = sklearn.__version__
    meta["numpy_version"] = np.__version__
    save_reproducible("tests/fixtures/detection.safetensors", tensors, meta)


if __name__ == "__main__":
    main()
