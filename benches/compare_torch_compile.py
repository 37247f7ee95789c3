"""Compiled training steps: torch.compile of the conv net and the MLP of compare_torch.py, with
torch's batch norm against bntune's kernels as a custom op (`bt.use_kernels_when_compiled()`).

Prints each step's median time over interleaved rounds and torch's time over bntune's. The
first two steps (compilation) are not timed.

Run: python benches/compare_torch_compile.py [--rounds 9] [--fullgraph]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
from torch import nn

import bntune.torch as bt
from compare_torch import ConvNet, mlp


def compiled_step(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, fullgraph: bool):
    compiled = torch.compile(model, fullgraph=fullgraph)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def run() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(compiled(x), labels).backward()
        opt.step()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--fullgraph", action="store_true")
    args = parser.parse_args()
    if not bt.use_kernels_when_compiled(True):
        raise SystemExit("needs torch.library.custom_op (torch 2.4 or later)")
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, model, x in (
        ("conv step", ConvNet(), torch.randn(128, 3, 32, 32)),
        ("MLP step", mlp(), torch.randn(256, 256)),
    ):
        labels = torch.randint(0, 10, (x.shape[0],))
        runs = {
            "torch": compiled_step(copy.deepcopy(model), x, labels, args.fullgraph),
            "bntune": compiled_step(bt.convert(copy.deepcopy(model)), x, labels, args.fullgraph),
        }
        for run in runs.values():  # compile, outside the timing
            run()
            run()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.rounds):
            for key in list(runs) if r % 2 == 0 else list(reversed(runs)):
                t0 = time.perf_counter()
                for _ in range(3):
                    runs[key]()
                times[key].append((time.perf_counter() - t0) / 3 * 1e3)
        pairs = zip(times["torch"], times["bntune"], strict=True)
        ratio = statistics.median(a / b for a, b in pairs)
        print(
            f"{name:10} torch {statistics.median(times['torch']):7.1f} ms  bntune "
            f"{statistics.median(times['bntune']):7.1f} ms  torch/bntune {ratio:.2f}x  "
            f"(load {os.getloadavg()[0]:.2f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
