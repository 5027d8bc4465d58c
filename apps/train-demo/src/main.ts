// `pnpm --filter @fa/train-demo train -- --steps 300 --backend cpu`. All logic lives in cli.ts, for the tests.
import { main } from './cli.js';

const code = await main(process.argv.slice(2));
// Exit explicitly: a backend's worker threads must not keep a finished run alive.
process.exit(code);
