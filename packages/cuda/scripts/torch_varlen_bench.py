#!/usr/bin/env python3
"""PyTorch's varlen attention (torch.nn.attention.varlen.varlen_attn, flash-attention 2 inside PyTorch) on the
same workloads as packages/cuda/scripts/bench.ts: the cu_seqlens and sampled rows come from the JSON that
packages/testkit/scripts/workloads.ts writes, so both programs time the same batches.

    node --conditions=@fa/source --import tsx packages/testkit/scripts/workloads.ts --out /tmp/workloads.json
    python3 packages/cuda/scripts/torch_varlen_bench.py --workloads /tmp/workloads.json --json torch.json

bf16 (default), forward, backward and forward + backward, timed with CUDA events around each call after a
warm-up, median of --iters. TFLOP/s: forward = 4 * sum(L^2) * H * D (halved when causal), backward 2.5x,
forward + backward 3.5x. out, lse and dq are checked against a float64 reference on the sampled rows.
Written for PyTorch 2.11; the call adapts to the signature it finds (is_causal= in 2.9, window_size=(-1, 0)
later) and prints it when the call fails.
"""

import argparse
import inspect
import json
import math
import os
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", required=True, help="JSON written by packages/testkit/scripts/workloads.ts --out")
    p.add_argument("--layouts", default="", help="subset of the file's layouts, comma-separated (default all)")
    p.add_argument("--dims", default="128,64")
    p.add_argument("--causal", default="false,true")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "f16"])
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--no-backward", action="store_true")
    p.add_argument("--json", default="")
    # cpu: only for scripts/device/torch_dry_run.py, which stands in for varlen_attn and CUDA events (no GPU here)
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    return p.parse_args()


def main():
    args = parse_args()
    import torch
    from torch.nn.attention import varlen as varlen_module

    varlen_attn = varlen_module.varlen_attn
    AuxRequest = getattr(varlen_module, "AuxRequest", None)
    signature = inspect.signature(varlen_attn)
    params = signature.parameters
    print(f"torch {torch.__version__}, varlen_attn{signature}", flush=True)
    if not torch.cuda.is_available():
        print("no CUDA device visible to torch", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    with open(args.workloads) as f:
        document = json.load(f)
    heads = int(document["heads"])
    wanted = [s for s in args.layouts.split(",") if s]
    workloads = [w for w in document["workloads"] if not wanted or w["layout"] in wanted]
    dims = [int(d) for d in args.dims.split(",")]
    causals = [c == "true" for c in args.causal.split(",")]

    def call(q, k, v, cu, max_len, causal, want_lse):
        kwargs = {}
        if "is_causal" in params:
            kwargs["is_causal"] = causal
        elif "window_size" in params:
            kwargs["window_size"] = [-1, 0] if causal else [-1, -1]
        elif causal:
            raise RuntimeError(f"no way to ask varlen_attn{signature} for causal attention")
        if want_lse and AuxRequest is not None and "return_aux" in params:
            kwargs["return_aux"] = AuxRequest(lse=True)
        try:
            return varlen_attn(q, k, v, cu, cu, max_len, max_len, **kwargs)
        except Exception:
            print(f"varlen_attn call failed; signature: varlen_attn{signature}; kwargs: {kwargs}", file=sys.stderr)
            raise

    def time_ms(fn):
        for _ in range(args.warmup):
            fn()
        torch.cuda.synchronize()
        events = []
        for _ in range(args.iters):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            events.append((start, end))
        torch.cuda.synchronize()
        samples = [s.elapsed_time(e) for s, e in events]
        return statistics.median(samples), samples

    results = []
    for d in dims:
        scale = 1.0 / math.sqrt(d)
        for w in workloads:
            total = int(w["tokens"])
            cu_list = [int(x) for x in w["cuSeqlens"]]
            cu = torch.tensor(cu_list, dtype=torch.int32, device=device)
            max_len = int(w["maxLength"])
            gen = torch.Generator(device=device).manual_seed(1234 + d)
            shape = (total, heads, d)
            q = torch.randn(shape, generator=gen, device=device, dtype=torch.float32).to(dtype)
            k = torch.randn(shape, generator=gen, device=device, dtype=torch.float32).to(dtype)
            v = torch.randn(shape, generator=gen, device=device, dtype=torch.float32).to(dtype)
            dout = torch.randn(shape, generator=gen, device=device, dtype=torch.float32).to(dtype)
            for causal in causals:
                flops = 4.0 * w["sumSquares"] * heads * d / (2 if causal else 1)
                with torch.no_grad():
                    fwd_ms, fwd_samples = time_ms(lambda: call(q, k, v, cu, max_len, causal, False))
                    result = call(q, k, v, cu, max_len, causal, True)
                out, lse = result if isinstance(result, tuple) else (result, None)
                bwd_ms = fwdbwd_ms = None
                bwd_samples = fwdbwd_samples = []
                dq = None
                if not args.no_backward:
                    qg, kg, vg = (t.detach().requires_grad_(True) for t in (q, k, v))
                    graph_out = call(qg, kg, vg, cu, max_len, causal, False)

                    def backward_only():
                        torch.autograd.grad(graph_out, (qg, kg, vg), dout, retain_graph=True)

                    def forward_backward():
                        o = call(qg, kg, vg, cu, max_len, causal, False)
                        torch.autograd.grad(o, (qg, kg, vg), dout)

                    bwd_ms, bwd_samples = time_ms(backward_only)
                    fwdbwd_ms, fwdbwd_samples = time_ms(forward_backward)
                    dq = torch.autograd.grad(graph_out, (qg,), dout)[0].detach()
                    del graph_out, qg, kg, vg
                errors = sampled_errors(torch, w, heads, scale, causal, q, k, v, dout, out, lse, dq)
                row = {
                    "dtype": args.dtype,
                    "headDim": d,
                    "heads": heads,
                    "layout": w["layout"],
                    "digest": w["digest"],
                    "causal": causal,
                    "tokens": total,
                    "sequences": w["sequences"],
                    "maxLength": max_len,
                    "forwardFlops": flops,
                    "forward": {"ms": fwd_ms, "tflops": flops / fwd_ms / 1e9, "samplesMs": fwd_samples},
                    "backward": None
                    if bwd_ms is None
                    else {"ms": bwd_ms, "tflops": 2.5 * flops / bwd_ms / 1e9, "samplesMs": bwd_samples},
                    "forwardBackward": None
                    if fwdbwd_ms is None
                    else {"ms": fwdbwd_ms, "tflops": 3.5 * flops / fwdbwd_ms / 1e9, "samplesMs": fwdbwd_samples},
                    "errors": errors,
                }
                results.append(row)
                print(
                    f"| {args.dtype} | {d} | {w['layout']} | {causal} | {w['sequences']} | {fwd_ms:.3f} | "
                    f"{row['forward']['tflops']:.1f} | {fmt(bwd_ms)} | {fmt(row['backward'] and row['backward']['tflops'], 1)} | "
                    f"{fmt(fwdbwd_ms)} | {fmt(row['forwardBackward'] and row['forwardBackward']['tflops'], 1)} | "
                    f"{errors['out']['maxAbs']:.1e} | {fmt_e(errors['lse'])} | {fmt_e(errors['dq'] and errors['dq']['maxAbs'])} |",
                    flush=True,
                )
                del out, lse, dq
            del q, k, v, dout
            torch.cuda.empty_cache()

    if args.json:
        document_out = {
            "tool": "packages/cuda/scripts/torch_varlen_bench.py",
            "command": " ".join([sys.executable, *sys.argv]),
            "cwd": os.getcwd(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "device": torch.cuda.get_device_name(device),
            "capability": ".".join(str(x) for x in torch.cuda.get_device_capability(device)),
            "torch": torch.__version__,
            "cudaRuntime": torch.version.cuda,
            "function": f"torch.nn.attention.varlen.varlen_attn{signature}",
            "workloads": {"file": args.workloads, "generator": document.get("generator"), "version": document.get("version")},
            "timing": "CUDA events around each call (torch.cuda.Event), median of iters after warmup; backward alone "
            "is torch.autograd.grad on a retained graph; forward+backward is one forward and its autograd.grad",
            "config": {"warmup": args.warmup, "iters": args.iters, "dims": dims, "causal": causals},
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(document_out, f, indent=2)
        print(f"wrote {args.json}")
    return 0


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def fmt_e(x):
    return "-" if x is None else f"{x:.1e}"


def sampled_errors(torch, w, heads, scale, causal, q, k, v, dout, out, lse, dq):
    """Max |x - ref| and relative L2 error over the sampled rows, against float64 attention on those rows."""
    cu = w["cuSeqlens"]
    total = int(w["tokens"])
    err = {"out": [0.0, 0.0, 0.0], "dq": [0.0, 0.0, 0.0]}
    lse_err = None
    lse_t = None
    if lse is not None:
        lse_t = lse.float()
        if lse_t.dim() == 2 and lse_t.shape[0] == total and lse_t.shape[1] == heads and total != heads:
            lse_t = lse_t.t()  # documented as (T, H) in some versions; the kernels write (H, T)
        if not (lse_t.dim() == 2 and lse_t.shape[0] == heads and lse_t.shape[1] == total):
            lse_t = None  # an unexpected layout (e.g. padded (B, H, max_q) on ROCm): not compared
    for row in w["sampleRows"]:
        b, h, i = row["b"], row["h"], row["i"]
        start, end = cu[b], cu[b + 1]
        length = end - start
        token = start + i
        qi = q[token, h].double()
        keys = k[start:end, h].double()
        values = v[start:end, h].double()
        visible = i + 1 if causal else length  # causal aligned bottom-right; Lq == Lk here
        s = (keys[:visible] @ qi) * scale
        ref_lse = torch.logsumexp(s, 0)
        p = torch.exp(s - ref_lse)
        ref_out = p @ values[:visible]
        accumulate(err["out"], out[token, h].double(), ref_out)
        if lse_t is not None:
            e = abs(float(lse_t[h, token]) - float(ref_lse))
            lse_err = e if lse_err is None else max(lse_err, e)
        if dq is not None:
            do = dout[token, h].double()
            dp = values[:visible] @ do
            ds = p * (dp - torch.dot(do, ref_out))
            ref_dq = scale * (ds @ keys[:visible])
            accumulate(err["dq"], dq[token, h].double(), ref_dq)
    result = {
        "out": {"maxAbs": err["out"][0], "relL2": math.sqrt(err["out"][1] / max(err["out"][2], 1e-300))},
        "lse": lse_err,
        "dq": None if dq is None else {"maxAbs": err["dq"][0], "relL2": math.sqrt(err["dq"][1] / max(err["dq"][2], 1e-300))},
        "sampledRows": len(w["sampleRows"]),
    }
    return result


def accumulate(acc, got, ref):
    diff = got - ref
    m = float(diff.abs().max())
    acc[0] = max(acc[0], m if m == m else float("inf"))  # NaN counts as infinite error
    acc[1] += float((diff * diff).sum())
    acc[2] += float((ref * ref).sum())


if __name__ == "__main__":
    sys.exit(main())
