#!/usr/bin/env node
// Builds .gpu-kit/: what a GPU machine (x86-64 Linux, no Node, no npm, no network) needs beyond the working tree and
// .device/ (Node itself and the Vulkan loaders, from ../shared/device/prepare.sh) to run the WebGPU and CUDA tests
// and benchmarks of this repo. See scripts/device/README.md.
//
//   node scripts/device/build-kit.mjs [--skip-addon] [--out .gpu-kit]   build the kit (here)
//   node scripts/device/build-kit.mjs --check                          on the device: does the kit fit this tree?
//
// The kit:
//   node_modules.tar.xz  the node_modules subset that vitest (for packages/webgpu and packages/cuda), tsx and the
//                        benchmark scripts load: the pnpm layout's real folders and symlinks (kept as links), found
//                        by following each package's installed dependencies, optionalDependencies and
//                        peerDependencies from the roots below; type-only packages, docs, source maps and .d.ts files
//                        left out, and of `webgpu`'s native builds only dist/linux-x64. Unpack in the repo root.
//   fa_cuda.node.xz      the CUDA addon, built here by packages/cuda/scripts/build-addon.mjs (FA_REQUIRE_CUDA_BUILD=1,
//                        the default archs 80;90: sm_90 SASS runs on the H100), static cudart; goes to
//                        packages/cuda/build/Release/fa_cuda.node, where the tests and the loader look
//   fa_cuda_emu.node.xz  the CPU emulator build of the same kernels, for the emulated tests and dry runs
//   manifest.json        what was built from what: git commit, hashes of the CUDA sources and the lockfile, the
//                        addon's needed libraries and symbol versions, sizes
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const outDir = resolve(root, argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : '.gpu-kit');
const cudaDir = join(root, 'packages', 'cuda');

/** Packages the device runs from the repo root: the test runner, the TypeScript loader, property tests. */
const ROOT_PACKAGES = ['vitest', 'tsx', 'fast-check'];
/** Workspace packages whose tests or scripts run there, and whose own node_modules links are followed. */
const WORKSPACE = ['core', 'seqpack', 'flash-attn', 'webgpu', 'cuda', 'conformance', 'testkit'];
/**
 * Not carried: type-only packages, the TypeScript compiler and playwright (only packages/webgpu/test/browser.test.ts
 * loads them, and it needs a Chromium the device lacks: the runner excludes it), node-addon-api (only the addon
 * build uses it; the addon travels built).
 */
const SKIP_PACKAGES = new Set(['typescript', 'playwright-core', '@webgpu/types', 'node-addon-api']);
const skipPackage = (name) => SKIP_PACKAGES.has(name) || name.startsWith('@types/');
const DROP_FILE = /(\.map|\.d\.[cm]?ts|\.tsbuildinfo|\.md|\.markdown)$/i;
const DROP_DIR = new Set(['docs', '__tests__', '.github']);

const rel = (p) => relative(root, p);
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** One hash over the sorted files of the given folders/files (path and content): what the addon was built from. */
function sourcesHash(paths) {
  const files = [];
  const walk = (p) => {
    const s = statSync(p);
    if (s.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else files.push(p);
  };
  for (const p of paths) if (existsSync(p)) walk(p);
  const hash = createHash('sha256');
  for (const file of files.map(rel).sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}
const CUDA_SOURCES = ['csrc', 'CMakeLists.txt'].map((p) => join(cudaDir, p));

if (argv.includes('--check')) {
  // On the device: compare the kit's manifest with this tree. Exit 1 when the addon was built from other sources.
  const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8'));
  const problems = [];
  const csrc = sourcesHash(CUDA_SOURCES);
  if (csrc !== manifest.cudaSourcesHash)
    problems.push(
      'packages/cuda/csrc or CMakeLists.txt differ from what the kit addon was built from: rebuild the kit (its CUDA results would be for other sources)',
    );
  const lock = sha256(readFileSync(join(root, 'pnpm-lock.yaml')));
  if (lock !== manifest.lockfileHash)
    problems.push('pnpm-lock.yaml differs from the one the kit node_modules came from: rebuild the kit');
  console.log(
    `kit: built ${manifest.date} from ${manifest.git.commit}${manifest.git.dirty ? ' (with uncommitted changes)' : ''}, node ${manifest.node}, addon archs ${manifest.addon?.archs ?? 'none'}`,
  );
  for (const p of problems) console.log(`kit: MISMATCH: ${p}`);
  if (!problems.length) console.log('kit: CUDA sources and lockfile match this tree');
  process.exit(problems.length ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The CUDA addon and the emulator, built here.
const addonPath = join(cudaDir, 'build', 'Release', 'fa_cuda.node');
const emuPath = join(cudaDir, 'build', 'emu', 'Release', 'fa_cuda_emu.node');
if (!argv.includes('--skip-addon')) {
  console.log('kit: building the CUDA addon and the emulator (packages/cuda/scripts/build-addon.mjs)');
  const build = spawnSync(process.execPath, [join(cudaDir, 'scripts', 'build-addon.mjs')], {
    cwd: cudaDir,
    stdio: 'inherit',
    env: { ...process.env, FA_REQUIRE_CUDA_BUILD: '1' },
  });
  if (build.status !== 0) {
    console.error('kit: the addon build failed');
    process.exit(1);
  }
}
for (const p of [addonPath, emuPath]) {
  if (!existsSync(p)) {
    console.error(`kit: ${rel(p)} is missing (run without --skip-addon)`);
    process.exit(1);
  }
}

/** What the dynamic linker will ask for: NEEDED libraries, RPATH/RUNPATH, and the newest GLIBC/GLIBCXX versions. */
function linkage(file) {
  const headers = execFileSync('objdump', ['-p', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const needed = [...headers.matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1]);
  const paths = [...headers.matchAll(/(RPATH|RUNPATH)\s+(\S+)/g)].map((m) => `${m[1]} ${m[2]}`);
  const symbols = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const newest = (prefix) => {
    const versions = [...symbols.matchAll(new RegExp(`${prefix}_([0-9.]+)`, 'g'))].map((m) => m[1]);
    return (
      versions
        .sort((a, b) => {
          const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
          for (let i = 0; i < Math.max(x.length, y.length); i++)
            if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
          return 0;
        })
        .at(-1) ?? null
    );
  };
  return {
    needed,
    paths,
    newestGlibc: newest('GLIBC'),
    newestGlibcxx: newest('GLIBCXX'),
    newestCxxAbi: newest('CXXABI'),
  };
}
const SYSTEM_LIBS = /^(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux-x86-64)\.so/;
const addonLinkage = linkage(addonPath);
const emuLinkage = linkage(emuPath);
for (const [name, l] of [
  ['fa_cuda.node', addonLinkage],
  ['fa_cuda_emu.node', emuLinkage],
]) {
  const foreign = l.needed.filter((lib) => !SYSTEM_LIBS.test(lib));
  console.log(
    `kit: ${name} needs ${l.needed.join(', ')}; newest GLIBC_${l.newestGlibc}, GLIBCXX_${l.newestGlibcxx}${l.paths.length ? `; ${l.paths.join(', ')}` : '; no RPATH/RUNPATH'}`,
  );
  if (foreign.length || l.paths.length) {
    console.error(
      `kit: ${name} needs libraries beyond glibc/libstdc++ (${foreign.join(', ')}) or carries search paths of this machine: refusing (the CUDA runtime must be linked statically)`,
    );
    process.exit(1);
  }
}
// Compatibility: Ubuntu 24.04 (the device) has glibc 2.39 and GCC 14's libstdc++ (GLIBCXX_3.4.33).
const versionAbove = (v, max) => {
  const [a, b] = [v.split('.').map(Number), max.split('.').map(Number)];
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return false;
};
if (
  versionAbove(addonLinkage.newestGlibc ?? '0', '2.39') ||
  versionAbove(addonLinkage.newestGlibcxx ?? '0', '3.4.33')
) {
  console.error('kit: the addon needs a newer glibc/libstdc++ than Ubuntu 24.04 has');
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. The node_modules closure.
const entries = new Set(); // repo-relative paths (files, symlinks, and directories holding only links) for tar
const visited = new Set(); // real package folders already walked
const warnings = [];
const dropped = { files: 0, bytes: 0 };

/** Adds every link along a chain of symlinks starting at `path`; returns the real path (or null if dangling). */
function followLinks(path) {
  let p = path;
  for (let hops = 0; hops < 40; hops++) {
    let s;
    try {
      s = lstatSync(p);
    } catch {
      return null;
    }
    if (!s.isSymbolicLink()) return p;
    entries.add(rel(p));
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new Error(`symlink loop at ${path}`);
}

function walkFiles(dir, onFile) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = lstatSync(p);
    if (s.isDirectory()) {
      if (DROP_DIR.has(name)) {
        dropped.files++;
        continue;
      }
      walkFiles(p, onFile);
    } else onFile(p, s, name);
  }
}

const insideWorkspace = (p) => !rel(p).split(sep).includes('node_modules');

/** A package's real folder: its files (filtered), then each installed dependency found where Node would look. */
function addPackage(realDir) {
  if (visited.has(realDir)) return;
  visited.add(realDir);
  const pkg = JSON.parse(readFileSync(join(realDir, 'package.json'), 'utf8'));
  walkFiles(realDir, (p, s, name) => {
    const r = rel(p);
    if (
      pkg.name === 'webgpu' &&
      /^dist[/\\]/.test(relative(realDir, p)) &&
      !/^dist[/\\]linux-x64[/\\]/.test(relative(realDir, p))
    ) {
      dropped.files++;
      dropped.bytes += s.size;
      return;
    }
    if (pkg.name === 'webgpu' && /^build[/\\]/.test(relative(realDir, p))) return; // build-from-source scripts
    if (DROP_FILE.test(name) && !/^licen[sc]e/i.test(name)) {
      dropped.files++;
      dropped.bytes += s.size;
      return;
    }
    entries.add(r);
  });
  // pnpm puts a package's dependencies beside it: <store>/node_modules/<name> next to <store>/node_modules/<dep>.
  const nodeModules = pkg.name.startsWith('@') ? dirname(dirname(realDir)) : dirname(realDir);
  const deps = [
    ...Object.keys(pkg.dependencies ?? {}).map((d) => [d, true]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((d) => [d, false]),
    ...Object.keys(pkg.peerDependencies ?? {}).map((d) => [d, false]),
  ];
  for (const [dep, required] of deps) {
    if (skipPackage(dep)) continue;
    // Where Node would look from this package: beside it, then pnpm's hoisted folder, then the repo root.
    const candidates = [
      join(nodeModules, dep),
      join(root, 'node_modules', '.pnpm', 'node_modules', dep),
      join(root, 'node_modules', dep),
    ];
    const found = candidates.find((c) => {
      try {
        lstatSync(c);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) {
      if (required) warnings.push(`${pkg.name}: dependency ${dep} is not installed`);
      continue;
    }
    const real = followLinks(found);
    if (real && !insideWorkspace(real)) addPackage(real);
  }
}

/** A name in a node_modules folder (a link to the store or to a workspace package). */
function addRoot(linkPath, name) {
  if (skipPackage(name)) return;
  const real = followLinks(linkPath);
  if (!real) {
    warnings.push(`dangling link ${rel(linkPath)}`);
    return;
  }
  if (!insideWorkspace(real)) addPackage(real);
}

for (const name of ROOT_PACKAGES) addRoot(join(root, 'node_modules', name), name);
for (const ws of WORKSPACE) {
  const nm = join(root, 'packages', ws, 'node_modules');
  if (!existsSync(nm)) continue;
  for (const name of readdirSync(nm)) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      for (const sub of readdirSync(join(nm, name))) addRoot(join(nm, name, sub), `${name}/${sub}`);
    } else addRoot(join(nm, name), name);
  }
}
// pnpm's hoisted folder: links to packages already carried, for packages that import what they do not declare.
const hoisted = join(root, 'node_modules', '.pnpm', 'node_modules');
for (const name of existsSync(hoisted) ? readdirSync(hoisted) : []) {
  const names = name.startsWith('@') ? readdirSync(join(hoisted, name)).map((s) => `${name}/${s}`) : [name];
  for (const n of names) {
    const link = join(hoisted, n);
    try {
      if (visited.has(realpathSync(link))) entries.add(rel(link));
    } catch {
      // dangling: skip
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Write the kit.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const list = [...entries].sort();
let rawBytes = 0;
for (const p of list) {
  const s = lstatSync(join(root, p));
  if (s.isFile()) rawBytes += s.size;
}
writeFileSync(join(outDir, 'node_modules.files'), `${list.join('\n')}\n`);
console.log(
  `kit: node_modules closure: ${visited.size} packages, ${list.length} entries, ${mib(rawBytes)} (left out ${dropped.files} files/folders, ${mib(dropped.bytes)} of them counted)`,
);
// Environment read outside turbo's tasks (this script is not one): FA_KIT_XZ_LEVEL, CUDACXX.
const { env } = process;
const xzLevel = env.FA_KIT_XZ_LEVEL ?? '9';
const started = Date.now();
execFileSync(
  'bash',
  [
    '-c',
    `set -o pipefail; tar --create --no-recursion --owner=0 --group=0 --numeric-owner --mtime=2026-01-01 --verbatim-files-from --files-from="$1" | xz -T2 -${xzLevel} > "$2"`,
    'tar',
    join(outDir, 'node_modules.files'),
    join(outDir, 'node_modules.tar.xz'),
  ],
  { cwd: root, stdio: 'inherit' },
);
console.log(`kit: node_modules.tar.xz in ${((Date.now() - started) / 1000).toFixed(0)} s`);
for (const [from, to] of [
  [addonPath, 'fa_cuda.node.xz'],
  [emuPath, 'fa_cuda_emu.node.xz'],
]) {
  execFileSync('bash', ['-c', `xz -T2 -${xzLevel} -c "$1" > "$2"`, 'xz', from, join(outDir, to)]);
}

const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout.trim();
const addonArchs = (() => {
  const probe = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(addonPath)}).archs)`], {
    encoding: 'utf8',
  });
  return probe.status === 0 ? probe.stdout.trim() : null;
})();
const sizes = Object.fromEntries(readdirSync(outDir).map((name) => [name, statSync(join(outDir, name)).size]));
const nvcc = spawnSync(env.CUDACXX ?? '/usr/local/cuda/bin/nvcc', ['--version'], { encoding: 'utf8' });
const manifest = {
  tool: 'scripts/device/build-kit.mjs',
  date: new Date().toISOString(),
  git: {
    commit: git('rev-parse', 'HEAD'),
    dirty: git('status', '--porcelain', '--', 'packages/cuda', 'pnpm-lock.yaml') !== '',
  },
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cudaSourcesHash: sourcesHash(CUDA_SOURCES),
  lockfileHash: sha256(readFileSync(join(root, 'pnpm-lock.yaml'))),
  addon: {
    archs: addonArchs,
    nvcc: nvcc.status === 0 ? nvcc.stdout.trim().split('\n').pop() : null,
    bytes: statSync(addonPath).size,
    sha256: sha256(readFileSync(addonPath)),
    linkage: addonLinkage,
  },
  emulator: { bytes: statSync(emuPath).size, sha256: sha256(readFileSync(emuPath)), linkage: emuLinkage },
  nodeModules: {
    roots: ROOT_PACKAGES,
    workspace: WORKSPACE,
    skipped: [...SKIP_PACKAGES, '@types/*'],
    packages: [...visited].map((p) => relative(join(root, 'node_modules', '.pnpm'), p)).sort(),
    entries: list.length,
    bytes: rawBytes,
  },
  sizes,
  warnings,
};
writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
for (const w of warnings) console.log(`kit: warning: ${w}`);
for (const [name, bytes] of Object.entries(sizes)) console.log(`kit: ${name.padEnd(22)} ${mib(bytes)}`);

// What travels to the device: the tracked and untracked-not-ignored files, plus the carried .device and .gpu-kit.
const treeFiles = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\0')
  .filter(Boolean);
let treeBytes = 0;
for (const f of treeFiles) {
  try {
    const s = lstatSync(join(root, f));
    if (s.isFile()) treeBytes += s.size;
  } catch {
    // deleted in the working tree
  }
}
const folderBytes = (dir) => {
  let total = 0;
  if (!existsSync(dir)) return 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
};
const deviceBytes = folderBytes(join(root, '.device'));
const kitBytes = folderBytes(outDir);
const total = treeBytes + deviceBytes + kitBytes;
console.log(
  `kit: travels: tree ${mib(treeBytes)} + .device ${mib(deviceBytes)}${deviceBytes ? '' : ' (not prepared: run ../shared/device/prepare.sh)'} + ${rel(outDir)} ${mib(kitBytes)} = ${mib(total)} (limit 64 MiB)`,
);
if (total > 60 * 2 ** 20) {
  console.error('kit: over 60 MiB: the device call would be refused or leave no margin');
  process.exit(1);
}
