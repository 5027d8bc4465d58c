// Writes corpus/documents.txt from the generator (pnpm --filter @fa/train-demo corpus).
import { writeFileSync } from 'node:fs';
import { formatDocuments } from './corpus.js';
import { generateCorpus } from './corpus-gen.js';
import { CORPUS_PATH } from './paths.js';

const documents = generateCorpus();
writeFileSync(CORPUS_PATH, formatDocuments(documents));
console.log(`wrote ${documents.length} documents to ${CORPUS_PATH}`);
