import * as flashAttn from '@fa/flash-attn';
import * as seqpack from '@fa/seqpack';

/**
 * The code editor of the playground: the sample runs as an ES module in the page. Its `@fa/*` imports never leave
 * the page: each package is the page's own bundled copy, put on a module-scope registry that a small generated
 * module (a blob: URL) re-exports, and the sample's import specifiers are rewritten to those URLs.
 */
export const MODULES: Record<string, Record<string, unknown>> = {
  '@fa/flash-attn': flashAttn,
  '@fa/seqpack': seqpack,
};

export const DEFAULT_SAMPLE = `import { flashAttnVarlen, tensor } from '@fa/flash-attn';
import { cuSeqlensFromLengths, maxSeqlen } from '@fa/seqpack';

const cu = cuSeqlensFromLengths([5, 0, 3]); // Int32Array [0, 5, 5, 8]: three sequences, one empty
const [T, H, D] = [8, 2, 16];
const q = tensor(new Float32Array(T * H * D).map((_, i) => Math.sin(i)), [T, H, D]);
const { out, lse } = await flashAttnVarlen(q, q, q, { cuSeqlensQ: cu, cuSeqlensK: cu, causal: true, backend: 'cpu' });
console.log('cu_seqlens', Array.from(cu).join(', '), 'max', maxSeqlen(cu));
// Offsets may also be written by hand as plain numbers: the same call, the same bits.
const again = await flashAttnVarlen(q, q, q, { cuSeqlensQ: [0, 5, 5, 8], cuSeqlensK: [0, 5, 5, 8], causal: true, backend: 'cpu' });
const [viaInt32, viaArray] = [await out.toArray(), await again.out.toArray()];
console.log('plain-array offsets give the same out:', viaArray.every((x, i) => Object.is(x, viaInt32[i])));
console.log('out shape', out.shape.join(' × '));
const first = Array.from(await out.toArray()).slice(0, 4);
console.log('out[0, 0, :4]', first.map((x) => x.toFixed(4)).join(', '));
console.log('lse shape', lse.shape.join(' × '));
`;

const REGISTRY = Symbol.for('fa.playground.modules');

interface Registry {
  modules: Record<string, Record<string, unknown>>;
  console: Pick<Console, 'log' | 'info' | 'warn' | 'error'>;
}

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  g[REGISTRY] ??= { modules: MODULES, console };
  return g[REGISTRY];
}

const urls = new Map<string, string>();

/** A module that re-exports one registered package, by name. */
function moduleUrl(specifier: string): string {
  let url = urls.get(specifier);
  if (!url) {
    const names = Object.keys(MODULES[specifier]!).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
    const source =
      `const m = globalThis[Symbol.for('fa.playground.modules')].modules[${JSON.stringify(specifier)}];\n` +
      names.map((n) => `export const ${n} = m.${n};`).join('\n');
    url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    urls.set(specifier, url);
  }
  return url;
}

/** Points the sample's imports of known packages at the page's copies; any other import is an error. */
export function rewriteImports(code: string): string {
  return code.replace(/(\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"]+)\2/g, (whole, head: string, quote: string, spec) => {
    if (spec in MODULES) return `${head}${quote}${moduleUrl(spec)}${quote}`;
    if (spec.startsWith('blob:')) return whole;
    throw new Error(`The playground can import only ${Object.keys(MODULES).join(' and ')}, not "${spec}".`);
  });
}

function format(args: unknown[]): string {
  return args
    .map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${a.message}` : safeJson(a)))
    .join(' ');
}

function safeJson(value: unknown): string {
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name} [${Array.from(value as unknown as ArrayLike<number>).join(', ')}]`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Runs the code as a module; `print` receives each console line. Resolves when the module (and its awaits) ends. */
export async function runSample(code: string, print: (line: string, level: string) => void): Promise<boolean> {
  const reg = registry();
  const log =
    (level: string) =>
    (...args: unknown[]) =>
      print(format(args), level);
  reg.console = { log: log('log'), info: log('info'), warn: log('warn'), error: log('error') };
  let url: string | undefined;
  try {
    const source = `const console = globalThis[Symbol.for('fa.playground.modules')].console;\n${rewriteImports(code)}`;
    url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    await import(/* @vite-ignore */ url);
    return true;
  } catch (error) {
    print(error instanceof Error ? `${error.name}: ${error.message}` : String(error), 'error');
    return false;
  } finally {
    if (url) URL.revokeObjectURL(url);
  }
}

export function startEditor(): void {
  const input = document.getElementById('pg-code') as HTMLTextAreaElement;
  const output = document.getElementById('pg-console')!;
  const button = document.getElementById('pg-code-run') as HTMLButtonElement;
  input.value = DEFAULT_SAMPLE;
  button.addEventListener('click', async () => {
    button.disabled = true;
    output.textContent = '';
    output.dataset.state = 'running';
    const ok = await runSample(input.value, (line, level) => {
      const div = document.createElement('div');
      div.className = `pg-console-${level}`;
      div.textContent = line;
      output.append(div);
    });
    output.dataset.state = ok ? 'done' : 'error';
    button.disabled = false;
  });
}
