#!/usr/bin/env bash
# @fa/cuda on the GPU machine, from the repo root, after `source .device/on-device.sh` (see README.md beside this):
#
#   bash scripts/device/cuda.sh [PHASE ...]      (no PHASE: all, in this order)
#
#   kit        the kit's addon was built from this tree's packages/cuda/csrc (build-kit.mjs --check)
#   test       FA_REQUIRE_CUDA=1 vitest run for packages/cuda: the conformance suite on the GPU with both backward
#              paths (atomic dQ, and deterministic: true), bad inputs, the binding, build and emulator tests
#   smoke      scripts/smoke.ts: every fixed conformance case with its errors, bit-identical repeats, event loop
#   memcheck   compute-sanitizer --tool memcheck on the zero-length case (required to pass)
#   racecheck  compute-sanitizer --tool racecheck, same case (optional: reported, does not fail the script)
#   bench      scripts/bench.ts on the shared workloads → $OUT/cuda-bench.json
#   ab         the kernel designs against each other (bench.ts --kernels, D = 128) → $OUT/cuda-ab.json
#   torch      torch_varlen_bench.py on the same cu_seqlens → $OUT/torch-bench.json
#   merge      one table with fa / PyTorch ratios → $OUT/cuda-vs-torch.json
#   ncu        kernel times from Nsight Compute (gpu__time_duration, clocks and caches left alone) for uniform,
#              D = 128, causal and not → $OUT/cuda-ncu.json (optional): what the wall times above cannot separate
#
# Files under $OUT: cuda.log, cuda-bench.json, torch-bench.json, cuda-vs-torch.json, cuda-ab.json, cuda-ncu.json.
# Environment (defaults in brackets):
#   FA_BENCH_TOKENS [32768], FA_BENCH_HEADS [16]   the workloads for both benchmarks
#   FA_BENCH_ARGS    extra arguments for scripts/bench.ts (e.g. "--iters 10 --dims 128")
#   FA_TORCH_ARGS    extra arguments for torch_varlen_bench.py
#   FA_TORCH_CMD     [python3 packages/cuda/scripts/torch_varlen_bench.py]
#   FA_SMOKE_ARGS    extra arguments for scripts/smoke.ts (e.g. "--big-tokens 256" on the emulator)
#   FA_CUDA_DRY_ADDON  a path: smoke, bench and the sanitizers use this addon (e.g. the CPU emulator, for a dry run
#                    of the plumbing where there is no GPU); the kit's GPU addon is still installed for the tests
FA_NAME=cuda
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TOKENS=${FA_BENCH_TOKENS:-32768}
HEADS=${FA_BENCH_HEADS:-16}
TORCH_CMD=${FA_TORCH_CMD:-python3 packages/cuda/scripts/torch_varlen_bench.py}
DRY=${FA_CUDA_DRY_ADDON:+--addon $(realpath -m "$FA_CUDA_DRY_ADDON")}
TSX="node --conditions=@fa/source --import tsx"
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer /usr/local/cuda-*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /usr/local/cuda-*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
# The conformance suite must find the GPU; the build tests must find the addon and the emulator (from the kit).
export FA_REQUIRE_CUDA=1 FA_REQUIRE_CUDA_BUILD=1

install_addon() {
  mkdir -p packages/cuda/build/Release packages/cuda/build/emu/Release &&
    xz -dc "$FA_KIT/fa_cuda.node.xz" >packages/cuda/build/Release/fa_cuda.node &&
    xz -dc "$FA_KIT/fa_cuda_emu.node.xz" >packages/cuda/build/emu/Release/fa_cuda_emu.node
}

setup
if install_addon; then log "addon: packages/cuda/build/Release/fa_cuda.node (and the emulator) from $FA_KIT"; else
  log "addon: could not unpack the kit's addon"
  FAILED=1
fi
log "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none); compute-sanitizer: ${SANITIZER:-none}; ncu: ${NCU:-none}"
log "python: $(python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1)"
[[ -n $DRY ]] && log "dry run: smoke, sanitizers and bench use $DRY"

phase kit 30 'node scripts/device/build-kit.mjs --check'
phase test 240 'cd packages/cuda && node ../../node_modules/vitest/vitest.mjs run'
phase smoke 120 "cd packages/cuda && $TSX scripts/smoke.ts ${FA_SMOKE_ARGS:-} $DRY"
if [[ -n $SANITIZER ]]; then
  phase memcheck 150 "cd packages/cuda && '$SANITIZER' --tool memcheck --error-exitcode 1 $TSX scripts/smoke.ts --case zero-length --no-extras $DRY"
  phase racecheck 120 "cd packages/cuda && '$SANITIZER' --tool racecheck --error-exitcode 1 $TSX scripts/smoke.ts --case zero-length --no-extras $DRY" optional
else
  phase memcheck 10 'echo "compute-sanitizer not found (PATH, /usr/local/cuda*/bin, /usr/local/cuda*/compute-sanitizer)"; exit 1'
fi
phase bench 240 "$TSX packages/testkit/scripts/workloads.ts --tokens $TOKENS --heads $HEADS --out /tmp/fa-workloads.json && cd packages/cuda && $TSX scripts/bench.ts --tokens $TOKENS --heads $HEADS --json '$OUT/cuda-bench.json' ${FA_BENCH_ARGS:-} $DRY"
phase torch 180 "[ -s /tmp/fa-workloads.json ] || $TSX packages/testkit/scripts/workloads.ts --tokens $TOKENS --heads $HEADS --out /tmp/fa-workloads.json; PYTHONUNBUFFERED=1 $TORCH_CMD --workloads /tmp/fa-workloads.json --json '$OUT/torch-bench.json' ${FA_TORCH_ARGS:-}"
phase merge 30 "node scripts/device/merge-cuda-torch.mjs '$OUT/cuda-bench.json' '$OUT/torch-bench.json' --out '$OUT/cuda-vs-torch.json'"
# The kernel designs against each other in one run (bf16, D = 128, uniform, causal and not): the default fa2, the
# baseline, and fa2 with each of its switches off (packages/cuda/src/kernels.ts).
phase ab 150 "cd packages/cuda && $TSX scripts/bench.ts --tokens $TOKENS --heads $HEADS --kernels fa2,baseline,fa2-mask-every-tile,fa2-generic,fa2-always-rescale --dims 128 --layouts uniform --warmup 2 --iters 10 --queued 4 --repeats 3 --json '$OUT/cuda-ab.json' $DRY" optional
# Two single-configuration bench runs under ncu: every launch's kernel time, summarised per kernel.
NCU_RUN="'$NCU' --clock-control none --cache-control none --print-units base --metrics gpu__time_duration.sum --csv --page raw"
NCU_BENCH="$TSX scripts/bench.ts --tokens $TOKENS --heads $HEADS --dims 128 --layouts uniform --warmup 1 --iters 3 --queued 0 $DRY"
if [[ -n $NCU ]]; then
  phase ncu 150 "cd packages/cuda && for c in false true; do $NCU_RUN --log-file /tmp/fa-ncu-\$c.csv $NCU_BENCH --causal \$c --json /tmp/fa-ncu-bench-\$c.json || exit 1; done && node ../../scripts/device/ncu-summary.mjs uniform-d128=/tmp/fa-ncu-false.csv:/tmp/fa-ncu-bench-false.json uniform-d128-causal=/tmp/fa-ncu-true.csv:/tmp/fa-ncu-bench-true.json --out '$OUT/cuda-ncu.json'" optional
elif wanted ncu; then
  log "=== ncu: skipped (ncu not found: PATH, /usr/local/cuda*/bin, /opt/nvidia/nsight-compute/*)"
  record ncu skipped 0 "ncu not found"
fi
summary
