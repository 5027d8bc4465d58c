// Writes the benchmark workloads (src/workloads.ts) as JSON for programs in other languages (the PyTorch benchmark)
// and prints a line per layout:
//
//   node --conditions=@fa/source --import tsx packages/testkit/scripts/workloads.ts [--tokens 32768] [--heads 16]
//     [--layouts uniform,skewed] [--seqlen 2048] [--sample-rows 24] [--out FILE]
import { writeFileSync } from 'node:fs';
import { type Layout, median, workloadsDocument } from '../src/workloads.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = argv.indexOf(name);
  return at >= 0 && argv[at + 1] !== undefined ? (argv[at + 1] as string) : fallback;
};
const document = workloadsDocument({
  tokens: Number(option('--tokens', '32768')),
  seqlen: Number(option('--seqlen', '2048')),
  heads: Number(option('--heads', '16')),
  layouts: option('--layouts', 'uniform,skewed').split(',') as Layout[],
  sampleCount: Number(option('--sample-rows', '24')),
});
const out = option('--out', '');
if (out) writeFileSync(out, `${JSON.stringify(document)}\n`);
for (const w of document.workloads) {
  const sorted = [...w.lengths].sort((a, b) => a - b);
  console.log(
    `${w.layout}: ${w.sequences} sequences, ${w.tokens} tokens, lengths ${sorted[0]}..${w.maxLength} (median ${median(sorted)}), digest ${w.digest}`,
  );
}
if (out) console.log(`wrote ${out}`);
