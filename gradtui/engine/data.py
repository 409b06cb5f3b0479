"""Toy datasets, generated deterministically from (name, samples, noise, seed) and split into train and test.

Inputs are 2-D points in about [-1, 1]^2 (``sine``: 1-D in [-pi, pi]; ``digits``: 64 pixels in [0, 1]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .names import DATASET_INFO, available_datasets

__all__ = ["DATASETS", "Dataset", "available_datasets", "make_dataset"]

TEST_FRACTION = 0.2


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: int  # 0 for regression

    @property
    def input_dim(self) -> int:
        return self.X_train.shape[1]

    @property
    def regression(self) -> bool:
        return self.classes == 0


def _spiral(n, noise, rng, k=3):
    per = n // k
    xs, ys = [], []
    for j in range(k):
        r = np.linspace(0.05, 1.0, per)
        t = np.linspace(j * 2 * math.pi / k, j * 2 * math.pi / k + 1.75 * math.pi, per)
        t = t + rng.normal(0.0, noise * 1.5, per)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(per, j))
    return np.concatenate(xs), np.concatenate(ys)


def _moons(n, noise, rng):
    a = n // 2
    b = n - a
    t1 = rng.uniform(0, math.pi, a)
    t2 = rng.uniform(0, math.pi, b)
    X = np.concatenate([np.stack([np.cos(t1), np.sin(t1)], 1), np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)])
    X = (X - [0.5, 0.25]) / 1.25
    X = X + rng.normal(0.0, noise, X.shape)
    return X, np.concatenate([np.zeros(a, int), np.ones(b, int)])


def _circles(n, noise, rng):
    a = n // 2
    t = rng.uniform(0, 2 * math.pi, n)
    r = np.where(np.arange(n) < a, 1.0, 0.5)
    X = np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0.0, noise, (n, 2))
    return X, (np.arange(n) >= a).astype(int)


def _xor(n, noise, rng):
    X = rng.uniform(-1, 1, (n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    return X + rng.normal(0.0, noise, X.shape), y


def _blobs(n, noise, rng, k=4):
    centers = np.array([[math.cos(2 * math.pi * j / k), math.sin(2 * math.pi * j / k)] for j in range(k)]) * 0.6
    y = np.arange(n) % k
    return centers[y] + rng.normal(0.0, 0.15 + noise, (n, 2)), y


def _checkerboard(n, noise, rng):
    X = rng.uniform(-1, 1, (n, 2))
    y = ((np.floor(X[:, 0] * 2) + np.floor(X[:, 1] * 2)) % 2).astype(int)
    return X + rng.normal(0.0, noise * 0.5, X.shape), y


def _sine(n, noise, rng):
    x = rng.uniform(-math.pi, math.pi, (n, 1))
    return x, (np.sin(x) + rng.normal(0.0, noise, x.shape))


def _digits(n, noise, rng):
    try:
        from sklearn.datasets import load_digits  # optional extra, never required
    except ImportError:
        raise ValueError("the digits dataset needs scikit-learn: pip install 'gradtui[digits]'") from None
    d = load_digits()
    return d.data / 16.0, d.target


# name -> (generator, classes (0 = regression), description); the names and classes are those of engine.names
_GENERATORS = {
    "spiral": _spiral, "moons": _moons, "circles": _circles, "xor": _xor, "blobs": _blobs,
    "checkerboard": _checkerboard, "sine": _sine, "digits": _digits,
}  # fmt: skip
DATASETS = {name: (_GENERATORS[name], *DATASET_INFO[name]) for name in DATASET_INFO}


def make_dataset(name: str, samples: int = 2000, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Generate ``name`` from ``seed``; the same arguments always give the same arrays (float64)."""
    gen, classes, _ = DATASETS[name]
    rng = np.random.default_rng([seed, 101])
    X, y = gen(samples, noise, rng)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64 if classes == 0 else np.intp)
    order = np.random.default_rng([seed, 102]).permutation(len(X))
    X, y = X[order], y[order]
    n_test = max(1, int(round(len(X) * TEST_FRACTION)))
    return Dataset(name, X[n_test:], y[n_test:], X[:n_test], y[:n_test], classes)
