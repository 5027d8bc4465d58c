/**
 * The source of a kernel worker thread, evaluated as a CommonJS script (`new Worker(source, { eval: true })`) so
 * that it needs no file of its own: it runs the same way from TypeScript sources, from dist, and bundled.
 * It instantiates the kernel module over the shared memory it is handed and, for each job, claims items from
 * the job's shared counter until none are left, then reports back.
 */
export const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const instance = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } });
const run = instance.exports.run;
parentPort.on('message', (message) => {
  try {
    run(message.job, message.thread);
    parentPort.postMessage({ ok: true });
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String((error && error.stack) || error) });
  }
});
`;
