#!/usr/bin/env python3
"""A dry run of packages/cuda/scripts/torch_varlen_bench.py without a GPU: CPU PyTorch, CUDA events replaced by a
host clock, and varlen_attn replaced by a plain float32 attention with the same signature (the 2.10+ one with
window_size, or with --old-signature the 2.9 one with is_causal). It checks the script's plumbing (arguments,
workloads JSON, autograd calls, error against float64, JSON out), not PyTorch's kernel: the errors it prints are
those of float32 attention and the timings mean nothing.

    node --conditions=@fa/source --import tsx packages/testkit/scripts/workloads.ts --tokens 512 --heads 2 --out /tmp/w.json
    python3 scripts/device/torch_dry_run.py [--old-signature] -- --workloads /tmp/w.json --iters 2 --json /tmp/t.json
"""

import math
import os
import runpy
import sys
import time

import torch
from torch.nn.attention import varlen as varlen_module

old_signature = "--old-signature" in sys.argv
script_args = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []


def attention(query, key, value, cu_seq_q, max_q, causal, want_lse):
    """float32 attention per sequence, differentiable; lse is (H, T) like the CUDA kernels'."""
    cu = [int(x) for x in cu_seq_q.tolist()]
    outs, lses = [], []
    for b in range(len(cu) - 1):
        q = query[cu[b] : cu[b + 1]].float().transpose(0, 1)  # (H, L, D)
        k = key[cu[b] : cu[b + 1]].float().transpose(0, 1)
        v = value[cu[b] : cu[b + 1]].float().transpose(0, 1)
        s = (q @ k.transpose(1, 2)) / math.sqrt(q.shape[-1])
        if causal:
            length = s.shape[-1]
            s = s.masked_fill(torch.ones(length, length, dtype=torch.bool).triu(1), float("-inf"))
        lses.append(torch.logsumexp(s, -1))
        outs.append((torch.softmax(s, -1) @ v).transpose(0, 1))
    out = torch.cat(outs).to(query.dtype)
    return (out, torch.cat(lses, -1)) if want_lse else out


if old_signature:

    def varlen_attn(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, is_causal=False, return_aux=None):
        return attention(query, key, value, cu_seq_q, max_q, is_causal, return_aux is not None and return_aux.lse)

else:

    def varlen_attn(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, *, return_aux=None, scale=None, window_size=(-1, -1)):
        if window_size not in ((-1, -1), (-1, 0)):
            raise ValueError(f"the stand-in does only full and causal attention, not window_size={window_size}")
        return attention(query, key, value, cu_seq_q, max_q, window_size == (-1, 0), return_aux is not None and return_aux.lse)


class HostEvent:
    def __init__(self, enable_timing=False):
        self.t = None

    def record(self):
        self.t = time.perf_counter()

    def elapsed_time(self, other):
        return (other.t - self.t) * 1e3


varlen_module.varlen_attn = varlen_attn
torch.cuda.is_available = lambda: True
torch.cuda.synchronize = lambda *args, **kwargs: None
torch.cuda.Event = HostEvent
torch.cuda.empty_cache = lambda: None
torch.cuda.get_device_name = lambda *args: "CPU stand-in (dry run)"
torch.cuda.get_device_capability = lambda *args: (0, 0)
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packages", "cuda", "scripts", "torch_varlen_bench.py")
sys.argv = [script, "--device", "cpu", *script_args]
runpy.run_path(script, run_name="__main__")
