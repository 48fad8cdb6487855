#!/usr/bin/env python3
"""The SSM's share of a profile of `statesmix compress`, from self samples.

``python bench/ssm_profile.py FILE [--level N] [--runs K]`` runs
``perf record -F 999 -- statesmix compress -q -c -l N FILE`` K times and
prints, per run, the share of all samples that are the SSM's, and the share
of the samples that are not a thread waiting for the other.

Why not call stacks: the dwarf-unwound profile (bench/README.md, "Format 5")
gave 54.0% and 46.6% for two runs of one build, because a sample the
unwinder cannot place counts for no caller. Self samples need no unwinding:

- the training thread (the one that runs ``smx_model_backward``) does nothing
  but the SSM's training; its samples in ``worker_main`` itself are its
  waiting for the coding thread;
- on the coding thread, the SSM is its forward kernels, ``forward_into``,
  ``smx_softmax`` and, in the warm-up that trains inline, the training
  kernels. ``max`` and ``exp_sum`` serve the token mixture's softmax too and
  ``dot`` the binary mixer, so they are left out there: the share is a
  slight underestimate.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, Iterable, NamedTuple, Tuple

# kernels named <name>_avx2 or <name>_scalar count under <name>
FORWARD = {"head_forward", "scan", "exp_mul", "softplus", "silu", "sigmoid", "layernorm_forward",
           "forward_into", "smx_softmax", "smx_model_forward", "embed_forward", "conv_input"}
TRAINING = {"smx_model_backward", "matvec_backward_dx", "outer_acc", "scan_backward", "adam", "silu_grad",
            "recompute_dlogits", "smx_model_train_chunk", "smx_model_chunk_gradient",
            "smx_model_replay_gradient", "layernorm_backward", "smx_adam_step", "smx_adam_step_aside"}
WAITING = "worker_main"


class Share(NamedTuple):
    samples: int
    waiting: int
    ssm: int

    @property
    def of_all(self) -> float:
        return self.ssm / self.samples if self.samples else 0.0

    @property
    def of_work(self) -> float:
        work = self.samples - self.waiting
        return self.ssm / work if work else 0.0


def _kernel(symbol: str) -> str:
    return re.sub(r"_(avx2|scalar)$", "", symbol)


def ssm_share(lines: Iterable[str]) -> Share:
    """Counts `perf script -F tid,ip,sym` lines: "<tid> <ip> <symbol>"."""
    per_thread: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    total = 0
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        total += 1
        symbol = _kernel(fields[2]) if len(fields) >= 3 else ""
        per_thread[fields[0]][symbol] += 1
    training = [t for t, c in per_thread.items() if c["smx_model_backward"] and c[WAITING]]
    if len(training) > 1:  # the one thread that trains beside the coder
        training = [max(training, key=lambda t: per_thread[t][WAITING])]
    waiting = sum(per_thread[t][WAITING] for t in training)
    ssm = sum(sum(per_thread[t].values()) - per_thread[t][WAITING] for t in training)
    for t, counts in per_thread.items():
        if t not in training:
            ssm += sum(n for s, n in counts.items() if s in FORWARD or s in TRAINING)
    return Share(total, waiting, ssm)


def profile(path: str, level: int) -> Tuple[Share, int]:
    with tempfile.TemporaryDirectory() as tmp:
        data = f"{tmp}/perf.data"
        with open(f"{tmp}/out.smx", "wb") as out:
            subprocess.run(["perf", "record", "-q", "-F", "999", "-o", data, "--", "statesmix", "compress",
                            "-q", "-c", "-l", str(level), path], stdout=out, check=True)
        size = os.path.getsize(f"{tmp}/out.smx")
        script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym"], capture_output=True,
                                text=True, check=True).stdout
    return ssm_share(script.splitlines()), size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--level", type=int, default=6)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args(argv)
    for run in range(args.runs):
        share, size = profile(args.file, args.level)
        print(f"run {run + 1}: {share.samples} samples, {size} bytes written; the SSM {100 * share.of_all:.1f}% "
              f"of all samples, {100 * share.of_work:.1f}% of those not waiting ({share.waiting} waiting)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
