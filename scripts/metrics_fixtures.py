"""NumPy/SciPy reference values for agon-metrics' scores (Fréchet distance, KID on all
samples, improved precision/recall, density/coverage, Inception-style score).

Regenerate (from the repository root; needs numpy and scipy, nothing else):

    /work/torchenv/bin/python scripts/metrics_fixtures.py

(any Python with numpy and scipy works: `python scripts/metrics_fixtures.py`).
Generated with numpy 2.4.6 and scipy 1.17.1 (versions also recorded in the file's metadata).
CI never runs this script: the output is committed and read by `tests/metrics.rs`. The file
is written with `scripts/_fixture_io.py`, so regenerating gives identical bytes (the inputs
come from a seeded `numpy.random.default_rng`).

Output: tests/fixtures/metrics.safetensors (float32 only, about 200 KB).

Cases (metadata entry per case: `n_a=..;n_b=..;d=..;pr_k=3;dc_k=5`)
------------------------------------------------------------------
    metrics.small   A [200, 16] ~ N(0, L1 L1^T), B [150, 16] ~ N(mu, L2 L2^T) with a
                    different mean and covariance (correlated, anisotropic).
    metrics.wide    A [300, 64], B [260, 64]: ReLU of correlated Gaussians shifted away
                    from the origin, like a classifier's penultimate activations (sparse,
                    non-negative, mean far from 0), B with a different mix and scale.
    metrics.close   A [120, 8], B [110, 8] from the same distribution: small FD, KID near 0
                    (possibly negative), precision and recall high.

Tensors (`<case>.<role>`)
-------------------------
    a, b            the feature matrices (float32; every reference value below is computed
                    in float64 from these float32 values, so both sides see the same inputs)
    fd              Fréchet distance: |mu_a - mu_b|^2 + tr(C_a + C_b - 2 sqrtm(C_a C_b)),
                    np.cov (divisor N - 1), scipy.linalg.sqrtm (real part; the imaginary
                    part is checked to be negligible)
    kid_full        unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 on all samples:
                    off-diagonal means of K_aa and K_bb minus twice the mean of K_ab
    precision, recall
                    Kynkäänniemi et al. 2019 with k = 3: radius of a sample = distance to its
                    k-th nearest neighbour in its own set (itself excluded); precision = share
                    of b inside some ball of a (strict <), recall = share of a inside some
                    ball of b
    density, coverage
                    Naeem et al. 2020 with k = 5 (balls around a only): density =
                    sum_j sum_i [d(b_j, a_i) < r_i] / (k M); coverage = share of a_i whose
                    nearest b is closer than r_i
    probs, is       class probabilities [N, 10] (softmax of random logits) and the
                    Inception-style score exp(mean KL(p(y|x) || p(y))), one split
Distances are exact (differences of points, no Gram-matrix expansion), so the Rust side's
blockwise |a|^2 + |b|^2 - 2 a.b is checked against an independent formula.
"""

import os

import numpy as np
import scipy
import scipy.linalg

from _fixture_io import save_reproducible

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics.safetensors")
PR_K = 3
DC_K = 5


class _Arr:
    """What `save_reproducible` expects: an object with `.numpy()`."""

    def __init__(self, a):
        self.a = np.ascontiguousarray(a, dtype=np.float32)

    def numpy(self):
        return self.a


def fid(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(ca @ cb)
    if np.iscomplexobj(covmean):
        assert np.abs(covmean.imag).max() < 1e-6 * np.abs(covmean.real).max(), "complex sqrtm"
        covmean = covmean.real
    diff = mu_a - mu_b
    return diff @ diff + np.trace(ca) + np.trace(cb) - 2.0 * np.trace(covmean)


def kid_full(a, b):
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1.0) ** 3
    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    n, m = len(a), len(b)
    return ((kaa.sum() - np.trace(kaa)) / (n * (n - 1))
            + (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
            - 2.0 * kab.mean())


def dist(x, y):
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def radii(x, k):
    # Column 0 of each sorted row is the point itself (distance exactly 0).
    return np.sort(dist(x, x), axis=1)[:, k]


def precision_recall(a, b, k):
    ra, rb = radii(a, k), radii(b, k)
    d_ab = dist(a, b)                                     # [N, M]
    precision = (d_ab < ra[:, None]).any(axis=0).mean()
    recall = (d_ab.T < rb[:, None]).any(axis=0).mean()
    return precision, recall


def density_coverage(a, b, k):
    ra = radii(a, k)
    d_ab = dist(a, b)
    density = (d_ab < ra[:, None]).sum() / (k * len(b))
    coverage = (d_ab.min(axis=1) < ra).mean()
    return density, coverage


def inception_score(p):
    py = p.mean(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(py)), 0.0)
    return np.exp(terms.sum(1).mean())


def correlated(rng, n, d, scale):
    mix = rng.standard_normal((d, d)) * scale / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mix


def main():
    rng = np.random.default_rng(20240611)
    cases = {}
    a = correlated(rng, 200, 16, 1.0)
    b = correlated(rng, 150, 16, 1.2) + rng.uniform(-0.3, 0.3, 16)
    cases["metrics.small"] = (a, b)
    a = np.maximum(correlated(rng, 300, 64, 2.0) + 1.0, 0.0) + 3.0
    b = np.maximum(correlated(rng, 260, 64, 2.5) + 0.7, 0.0) + 3.0
    cases["metrics.wide"] = (a, b)
    mix = rng.standard_normal((8, 8)) / np.sqrt(8)
    cases["metrics.close"] = (rng.standard_normal((120, 8)) @ mix,
                              rng.standard_normal((110, 8)) @ mix)

    named, meta = {}, {}
    for name, (a, b) in cases.items():
        a = a.astype(np.float32).astype(np.float64)   # what the Rust side reads
        b = b.astype(np.float32).astype(np.float64)
        p, r = precision_recall(a, b, PR_K)
        dens, cov = density_coverage(a, b, DC_K)
        logits = rng.standard_normal((len(a), 10)) * 3.0
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs = (probs / probs.sum(1, keepdims=True)).astype(np.float32).astype(np.float64)
        values = {
            "a": a, "b": b, "fd": fid(a, b), "kid_full": kid_full(a, b),
            "precision": p, "recall": r, "density": dens, "coverage": cov,
            "probs": probs, "is": inception_score(probs),
        }
        for role, v in values.items():
            named[f"{name}.{role}"] = _Arr(np.asarray(v, dtype=np.float64))
        meta[name] = f"n_a={len(a)};n_b={len(b)};d={a.shape[1]};pr_k={PR_K};dc_k={DC_K}"
        print(name, {k: float(v) for k, v in values.items() if np.ndim(v) == 0})
    meta["num_cases"] = str(len(cases))
    meta["cases"] = ",".join(sorted(cases))
    meta["numpy_version"] = np.__version__
    meta["scipy_version"] = scipy.__version__
    save_reproducible(OUT, named, meta)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
