import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const packagesRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Serves the workspace's TypeScript sources to a browser as ES modules, transpiled on request, so the browser
 * test runs the same sources as the Node tests with no build step. `/pkg/<package>/src/x.js` maps to
 * `packages/<package>/src/x.ts`; the page maps bare `@fa/*` imports there with an import map.
 */
export async function startSourceServer(page: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(async (request, response) => {
    try {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      if (path === '/' || path === '/index.html') {
        response.writeHead(200, { 'content-type': 'text/html' }).end(page);
        return;
      }
      const match = /^\/pkg\/([a-z-]+)\/(src\/[\w/.-]+)\.js$/.exec(path);
      if (!match) {
        response.writeHead(404).end();
        return;
      }
      const file = normalize(join(packagesRoot, match[1]!, `${match[2]}.ts`));
      if (!file.startsWith(packagesRoot)) {
        response.writeHead(403).end();
        return;
      }
      const source = await readFile(file, 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
        fileName: file,
      });
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(outputText);
    } catch (error) {
      response.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
