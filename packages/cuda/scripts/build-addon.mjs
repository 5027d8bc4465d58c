#!/usr/bin/env node
// Builds build/Release/fa_cuda.node with CMake's CUDA language, using only what is installed: Node's own headers
// (next to the running node binary) and node-addon-api's (a dependency). Nothing is downloaded.
//
// Without nvcc or cmake it prints why and exits 0, so `pnpm install`/`pnpm build` never fail on machines without
// CUDA; with FA_REQUIRE_CUDA_BUILD=1 (CI) a missing toolchain or a failed compile fails the build.
// FA_CUDA_ARCHS overrides the architectures ("80;90" by default); FA_CUDA_RESOURCE_USAGE=1 prints ptxas's
// register/spill/shared-memory report for every kernel; FA_CUDA_LDMATRIX=0 builds without ldmatrix (16-bit loads
// instead), to bisect a failure seen only on hardware.
//
// With FA_CUDA_EMULATOR=1, or FA_REQUIRE_CUDA_BUILD=1, it also builds build/emu/Release/fa_cuda_emu.node: the same
// binding and kernels compiled as plain C++ against a CPU emulator (csrc/emu), which needs no CUDA toolkit and
// lets the tests run the kernel code through the conformance suite without a GPU.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(packageDir, 'build');
const required = process.env.FA_REQUIRE_CUDA_BUILD === '1';

function skip(reason, fix) {
  const message = `@fa/cuda: not building the CUDA addon: ${reason}\n  ${fix}`;
  if (required) {
    console.error(`${message}\n  FA_REQUIRE_CUDA_BUILD=1 is set, so this is an error.`);
    process.exit(1);
  }
  console.log(`${message}\n  The cuda backend will report itself unavailable; other backends are unaffected.`);
  process.exit(0);
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function findNvcc() {
  const candidates = [
    process.env.CUDACXX,
    process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'),
    process.env.CUDA_PATH && join(process.env.CUDA_PATH, 'bin', 'nvcc'),
    onPath('nvcc'),
    '/usr/local/cuda/bin/nvcc',
  ];
  return candidates.find((c) => c && existsSync(c));
}

function findNodeHeaders() {
  // Official tarballs and distro packages both put headers at <prefix>/include/node, prefix = bin/..
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    process.config?.variables?.node_prefix && join(process.config.variables.node_prefix, 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((c) => c && existsSync(join(c, 'node_api.h')));
}

const wantEmulator = required || process.env.FA_CUDA_EMULATOR === '1';
const cmake = onPath('cmake');
if (!cmake) skip('cmake was not found on PATH.', 'Install CMake >= 3.18 (e.g. `apt-get install cmake`).');
const nodeHeaders = findNodeHeaders();
if (!nodeHeaders) {
  skip(
    `Node's headers (node_api.h) were not found next to ${process.execPath}.`,
    'Install them (Debian: `apt-get install libnode-dev`; official tarballs include them) or set npm_config_nodedir.',
  );
}
// include_dir is relative to the working directory; CMake would read it relative to the source directory.
const addonApi = resolve(createRequire(import.meta.url)('node-addon-api').include_dir);

/** Runs cmake; on failure exits 1 when `strict`, else 0 with the reason (the addon then reports itself unbuilt). */
function run(args, strict) {
  const result = spawnSync(cmake, args, { stdio: 'inherit' });
  if (result.status === 0) return;
  const message = `@fa/cuda: \`cmake ${args.join(' ')}\` failed (exit ${result.status ?? result.signal}).`;
  if (strict) {
    console.error(message);
    process.exit(1);
  }
  // A broken local toolchain must not break the workspace build: report and carry on without the addon.
  console.log(`${message}\n  The cuda backend will report itself unavailable (not built).`);
  process.exit(0);
}

const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(0)} s`;
const nvcc = findNvcc();
if (nvcc) {
  const archs = process.env.FA_CUDA_ARCHS ?? '80;90';
  const started = Date.now();
  console.log(`@fa/cuda: building the addon for sm_${archs.split(';').join(', sm_')} with ${nvcc}`);
  try {
    console.log(`  ${execFileSync(nvcc, ['--version'], { encoding: 'utf8' }).trim().split('\n').pop()}`);
  } catch {
    // The version line is informative only; CMake reports a broken compiler itself.
  }
  run(
    [
      '-S',
      packageDir,
      '-B',
      buildDir,
      '-DCMAKE_BUILD_TYPE=Release',
      `-DCMAKE_CUDA_COMPILER=${nvcc}`,
      `-DCMAKE_CUDA_ARCHITECTURES=${archs}`,
      `-DNODE_INCLUDE_DIR=${nodeHeaders}`,
      `-DNODE_ADDON_API_DIR=${addonApi}`,
      `-DFA_CUDA_RESOURCE_USAGE=${process.env.FA_CUDA_RESOURCE_USAGE === '1' ? 'ON' : 'OFF'}`,
      `-DFA_CUDA_LDMATRIX=${process.env.FA_CUDA_LDMATRIX === '0' ? 'OFF' : 'ON'}`,
    ],
    required,
  );
  run(['--build', buildDir, '--parallel', String(availableParallelism())], required);
  console.log(`@fa/cuda: built ${join(buildDir, 'Release', 'fa_cuda.node')} in ${seconds(started)}`);
} else if (!wantEmulator) {
  skip(
    'nvcc (the CUDA toolkit) was not found (PATH, CUDACXX, CUDA_HOME, /usr/local/cuda).',
    'Install the CUDA toolkit >= 12.0 and put nvcc on PATH, or point CUDACXX at it.',
  );
} else if (required) {
  skip(
    'nvcc (the CUDA toolkit) was not found (PATH, CUDACXX, CUDA_HOME, /usr/local/cuda).',
    'Install the CUDA toolkit.',
  );
}

if (wantEmulator) {
  const emuDir = join(buildDir, 'emu');
  const started = Date.now();
  console.log('@fa/cuda: building the CPU emulator of the kernels (csrc/emu)');
  run(
    [
      '-S',
      join(packageDir, 'csrc', 'emu'),
      '-B',
      emuDir,
      '-DCMAKE_BUILD_TYPE=Release',
      `-DNODE_INCLUDE_DIR=${nodeHeaders}`,
      `-DNODE_ADDON_API_DIR=${addonApi}`,
    ],
    true,
  );
  run(['--build', emuDir, '--parallel', String(availableParallelism())], true);
  console.log(`@fa/cuda: built ${join(emuDir, 'Release', 'fa_cuda_emu.node')} in ${seconds(started)}`);
}
