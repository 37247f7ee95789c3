# ruff: noqa: N803, N806  (X, Xt: the usual names for data matrices)
"""Epoch time of the digits MLP (64→100→BN→ReLU→100→BN→ReLU→10, Adam, batch 128, float32):
bntune.nn against the same network written in plain numpy, and torch (CPU) when installed.

The contenders run interleaved, one epoch each per round, in rotating order; the table shows
median epoch times and the ratio to bntune. Run: ``python benches/compare_training.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import bntune
from bntune import datasets, nn, optim

BATCH = 128
HIDDEN = 100
EPS = 1e-5
MOMENTUM = 0.1


def bntune_contender(X, y, seed):
    model = nn.mlp(64, 10, hidden=HIDDEN, layers=2, seed=seed)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss = nn.SoftmaxCrossEntropy()
    rng = np.random.default_rng(seed)

    def epoch():
        nn.fit(model, loss, opt, X, y, epochs=1, batch_size=BATCH, seed=rng)

    return epoch


class NumpyMLP:
    """The same network, forward and backward written directly in numpy (float32)."""

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        f32 = np.float32
        self.params = {
            "W1": (rng.standard_normal((64, HIDDEN)) * np.sqrt(2 / 64)).astype(f32),
            "g1": np.ones(HIDDEN, f32), "b1": np.zeros(HIDDEN, f32),
            "W2": (rng.standard_normal((HIDDEN, HIDDEN)) * np.sqrt(2 / HIDDEN)).astype(f32),
            "g2": np.ones(HIDDEN, f32), "b2": np.zeros(HIDDEN, f32),
            "W3": (rng.standard_normal((HIDDEN, 10)) * np.sqrt(2 / HIDDEN)).astype(f32),
            "b3": np.zeros(10, f32),
        }  # fmt: skip
        self.running = {k: np.zeros(HIDDEN, f32) for k in ("m1", "m2")}
        self.running.update({k: np.ones(HIDDEN, f32) for k in ("v1", "v2")})
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.t = 0

    def _bn_forward(self, z, gamma, beta, i):
        mean = z.mean(axis=0)
        var = z.var(axis=0)
        n = z.shape[0]
        self.running[f"m{i}"] = (1 - MOMENTUM) * self.running[f"m{i}"] + MOMENTUM * mean
        self.running[f"v{i}"] = (1 - MOMENTUM) * self.running[f"v{i}"] + MOMENTUM * var * n / (
            n - 1
        )
        invstd = 1 / np.sqrt(var + EPS)
        xhat = (z - mean) * invstd
        return gamma * xhat + beta, (xhat, invstd)

    @staticmethod
    def _bn_backward(dy, gamma, cache):
        xhat, invstd = cache
        n = dy.shape[0]
        dbeta = dy.sum(axis=0)
        dgamma = (dy * xhat).sum(axis=0)
        dx = gamma * invstd / n * (n * dy - dbeta - xhat * dgamma)
        return dx, dgamma, dbeta

    def step(self, x, labels):
        p = self.params
        z1 = x @ p["W1"]
        y1, c1 = self._bn_forward(z1, p["g1"], p["b1"], 1)
        a1 = np.maximum(y1, 0)
        z2 = a1 @ p["W2"]
        y2, c2 = self._bn_forward(z2, p["g2"], p["b2"], 2)
        a2 = np.maximum(y2, 0)
        logits = a2 @ p["W3"] + p["b3"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs = exp / exp.sum(axis=1, keepdims=True)
        n = x.shape[0]
        dlogits = probs
        dlogits[np.arange(n), labels] -= 1
        dlogits /= n
        grads = {"W3": a2.T @ dlogits, "b3": dlogits.sum(axis=0)}
        da2 = dlogits @ p["W3"].T
        dz2, grads["g2"], grads["b2"] = self._bn_backward(da2 * (y2 > 0), p["g2"], c2)
        grads["W2"] = a1.T @ dz2
        da1 = dz2 @ p["W2"].T
        dz1, grads["g1"], grads["b1"] = self._bn_backward(da1 * (y1 > 0), p["g1"], c1)
        grads["W1"] = x.T @ dz1
        self.t += 1
        lr, b1, b2 = 1e-3, 0.9, 0.999
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.t)
            v_hat = self.v[k] / (1 - b2**self.t)
            p[k] -= (lr * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)


def numpy_contender(X, y, seed):
    net = NumpyMLP(seed)
    rng = np.random.default_rng(seed)

    def epoch():
        order = rng.permutation(X.shape[0])
        for lo in range(0, X.shape[0], BATCH):
            batch = order[lo : lo + BATCH]
            net.step(X[batch], y[batch])

    return epoch


def torch_contender(X, y, seed):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN, bias=False), torch.nn.BatchNorm1d(HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN, bias=False), torch.nn.BatchNorm1d(HIDDEN),
        torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)

    def epoch():
        order = torch.randperm(Xt.shape[0], generator=generator)
        for lo in range(0, Xt.shape[0], BATCH):
            batch = order[lo : lo + BATCH]
            opt.zero_grad()
            loss_fn(model(Xt[batch]), yt[batch]).backward()
            opt.step()

    return epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="epochs timed per contender")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit numpy's BLAS to this many threads (needs threadpoolctl; default: leave it)",
    )
    args = parser.parse_args()
    blas = "default"
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
        blas = str(args.blas_threads)
    X, y, *_ = datasets.digits(seed=0)
    contenders = {
        "bntune.nn": bntune_contender(X, y, 0),
        "plain numpy": numpy_contender(X, y, 0),
        "torch (CPU)": torch_contender(X, y, 0),
    }
    runnable = {name: fn for name, fn in contenders.items() if fn is not None}
    for fn in runnable.values():  # warm-up: imports, allocations, caches
        fn()
    times: dict[str, list[float]] = {name: [] for name in runnable}
    names = list(runnable)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            runnable[name]()
            times[name].append(time.perf_counter() - start)
    print(
        f"digits MLP 64-100-BN-ReLU-100-BN-ReLU-10, Adam, batch {BATCH}, float32, "
        f"{X.shape[0]} samples/epoch; {bntune.get_num_threads()} bntune threads, "
        f"SIMD {bntune.simd_backend()}; BLAS threads {blas}; median of {args.rounds} epochs"
    )
    base = statistics.median(times["bntune.nn"])
    print(f"{'contender':<14} {'epoch ms':>10} {'ms/step':>9} {'time / bntune':>14}")
    steps = -(-X.shape[0] // BATCH)
    for name, fn in contenders.items():
        if fn is None:
            print(f"{name:<14} {'not installed':>10}")
            continue
        med = statistics.median(times[name])
        print(f"{name:<14} {med * 1e3:>10.2f} {med * 1e3 / steps:>9.3f} {med / base:>13.2f}x")


if __name__ == "__main__":
    main()
