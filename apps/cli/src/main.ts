#!/usr/bin/env node
// The `fa` binary. All logic lives in cli.ts so that tests can run the CLI in-process.
import { main } from './cli.js';

const code = await main(process.argv.slice(2));
// Exit explicitly: a backend's worker threads or timers must not keep a finished command alive.
process.exit(code);
