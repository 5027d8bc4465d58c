import { fileURLToPath } from 'node:url';

/** The corpus that ships with the demo. */
export const CORPUS_PATH = fileURLToPath(new URL('../corpus/documents.txt', import.meta.url));
