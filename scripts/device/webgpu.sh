#!/usr/bin/env bash
# @fa/webgpu on the GPU machine through Dawn and Vulkan, from the repo root, after `source .device/on-device.sh`
# (which sets VK_DRIVER_FILES to the NVIDIA driver; see README.md beside this):
#
#   bash scripts/device/webgpu.sh [PHASE ...]    (no PHASE: all, in this order)
#
#   adapter    adapter info, every feature and limit, subgroup sizes, subgroup-matrix configs, with and without the
#              Dawn toggles allow_unsafe_apis and vulkan_enable_f16_on_nvidia, and a real f16 shader where shader-f16
#              shows → $OUT/webgpu-adapter.json; fails when the adapter is not the NVIDIA GPU (e.g. SwiftShader)
#   test       vitest run for packages/webgpu on that adapter (not the package's `test` script, which forces
#              SwiftShader), FA_REQUIRE_WEBGPU=1; test/browser.test.ts left out (it needs Chromium)
#   bench      scripts/bench.ts on the shared workloads, f32/f16/bf16 storage → $OUT/webgpu-bench.json
#   bench-f16  the f16 rows again with vulkan_enable_f16_on_nvidia (shader-f16 kernels), only when the adapter
#              report shows that toggle exposing a working shader-f16 → $OUT/webgpu-bench-f16.json (optional)
#   tune       forward and backward (f32, D = 128 and 64, uniform, non-causal) once per tiling variant: the default, vec4
#              tiles, no subgroup reductions, 64×32 tiles (Q resident at D = 128 in 48 KiB), and both → one table in
#              $OUT/webgpu-tune.json (optional; not run by default: name it, e.g. `webgpu.sh tune`)
#
# Files under $OUT: webgpu.log, webgpu-adapter.json, webgpu-bench.json, webgpu-bench-f16.json, webgpu-tune.json.
# Environment: FA_BENCH_TOKENS [32768], FA_BENCH_HEADS [16], FA_BENCH_ARGS (extra bench.ts arguments, e.g.
# "--smoke" or "--iters 5"), FA_EXPECT_VENDOR [nvidia; empty: accept any adapter, e.g. SwiftShader for a dry run].
FA_NAME=webgpu
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TOKENS=${FA_BENCH_TOKENS:-32768}
HEADS=${FA_BENCH_HEADS:-16}
VENDOR=${FA_EXPECT_VENDOR-nvidia}
TSX="node --conditions=@fa/source --import tsx"
export FA_REQUIRE_WEBGPU=1

setup
log "vulkan: VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-unset}; $(ldconfig -p 2>/dev/null | grep -m1 -o 'libvulkan.so.1' || echo 'no libvulkan.so.1 in ldconfig')"

phase kit 30 'node scripts/device/build-kit.mjs --check' optional
phase adapter 90 "node scripts/device/webgpu-adapter.mjs --out '$OUT/webgpu-adapter.json' ${VENDOR:+--expect-vendor $VENDOR}"
phase test 270 'cd packages/webgpu && node ../../node_modules/vitest/vitest.mjs run --exclude test/browser.test.ts'
phase bench 300 "cd packages/webgpu && $TSX scripts/bench.ts --tokens $TOKENS --heads $HEADS --dtypes f32,f16,bf16 --json '$OUT/webgpu-bench.json' ${FA_BENCH_ARGS:-}"
# shader-f16 on NVIDIA only behind a toggle (crbug.com/tint/2164): bench its kernels only if the report saw them work.
f16_ok=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).runs;
  const t = r.find((x) => x.toggles.length === 1 && x.toggles[0] === "vulkan_enable_f16_on_nvidia");
  const d = r.find((x) => x.toggles.length === 0);
  console.log(t && t.f16Shader && t.f16Shader.correct && !(d && d.shaderF16) ? "yes" : "no");
' "$OUT/webgpu-adapter.json" 2>/dev/null || echo no)
if [[ $f16_ok == yes ]]; then
  phase bench-f16 150 "cd packages/webgpu && $TSX scripts/bench.ts --tokens $TOKENS --heads $HEADS --dtypes f16 --dawn-toggles vulkan_enable_f16_on_nvidia --json '$OUT/webgpu-bench-f16.json' ${FA_BENCH_ARGS:-}" optional
elif wanted bench-f16; then
  log "=== bench-f16: skipped (shader-f16 is not exposed by vulkan_enable_f16_on_nvidia alone, already on by default, or its test shader failed: see webgpu-adapter.json)"
  record bench-f16 "skipped" 0 "no usable shader-f16 behind the toggle"
fi
if [[ " $* " == *" tune "* ]]; then
  WANTED="  " # every tune-* phase below
  mkdir -p /tmp/fa-tune
  # The predictions first (workgroup memory, occupancy, loads per FMA, barriers), to read the timings against.
  phase tune-report 30 "cd packages/webgpu && $TSX scripts/tiling-report.ts" optional
  for variant in 'default:' 'vec4:--vec4' 'no-subgroups:--no-subgroups' 'q-resident:--shapes forward=128x64x32x4' \
    'q-resident-vec4:--vec4 --shapes forward=128x64x32x4'; do
    name=${variant%%:*}
    phase "tune-$name" 100 "cd packages/webgpu && $TSX scripts/bench.ts --tokens $TOKENS --heads $HEADS --dtypes f32 --dims 128,64 --layouts uniform --causal false ${variant#*:} --json /tmp/fa-tune/$name.json ${FA_BENCH_ARGS:-}" optional
  done
  node -e '
    const fs = require("fs"), dir = "/tmp/fa-tune";
    const runs = fs.readdirSync(dir).map((f) => ({ variant: f.replace(/\.json$/, ""), ...JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")) }));
    fs.writeFileSync(process.argv[1], JSON.stringify(runs, null, 2) + "\n");
    for (const r of runs) for (const x of r.results) console.log(`${r.variant.padEnd(16)} D=${x.headDim} fwd ${x.forwardTflops.toFixed(2)} bwd ${(x.backwardTflops ?? 0).toFixed(2)} TFLOP/s  ${x.tiles.join(" ")}`);
  ' "$OUT/webgpu-tune.json" || true
fi
summary
