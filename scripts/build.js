#!/usr/bin/env node
// `npm run build`: the code of a production installation, runnable by plain Node (no tsx).
//   1. tsc compiles src/, workflows/, activities/ and worker/ to JavaScript (tsconfig.build.json);
//   2. the dev stack's output is dropped: src/cli/main.ts still reaches it through a dynamic import,
//      so tsc compiles it, but an installation built here leaves it out and `tagship dev` says so;
//   3. tsc-alias completes relative imports for Node's ESM loader ('./connect' → './connect.js');
//   4. the workflow bundle is built once, here, instead of by webpack at every worker start
//      (worker/run.ts picks up <out-dir>/workflow-bundle.js).
// Usage: node scripts/build.js [--out-dir dist]   (npm run build -- --out-dir /tmp/x)
import { rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import { execa } from 'execa';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: 'dist' } } });
const outDir = resolve(root, values['out-dir']);
// The output directory is emptied first: it must not be the checkout or hold it.
const fromOut = relative(outDir, root);
if (fromOut === '' || (!fromOut.startsWith('..') && !isAbsolute(fromOut))) {
  throw new Error(`--out-dir ${outDir} would hold the source tree; pick a directory of its own`);
}
const tool = (name) => join(root, 'node_modules', '.bin', name);
const run = (file, args) => execa(file, args, { cwd: root, stdio: 'inherit' });

await rm(outDir, { recursive: true, force: true });
await run(tool('tsc'), ['-p', 'tsconfig.build.json', '--outDir', outDir]);
await rm(join(outDir, 'src', 'dev'), { recursive: true, force: true });
await run(tool('tsc-alias'), ['-p', 'tsconfig.build.json', '--outDir', outDir, '--resolve-full-paths']);

// Bundled from the sources (webpack compiles TypeScript and resolves packages from this checkout,
// wherever --out-dir is), as tests and `tagship dev` bundle them. The failure converter goes into
// the sandbox unconditionally: with payload keys (production) it encrypts failure messages too;
// without them it only moves them into a plain JSON payload that every client and the UI read.
const bundle = await bundleWorkflowCode({
  workflowsPath: join(root, 'workflows', 'index.ts'),
  failureConverterPath: join(root, 'src', 'codec', 'failure-converter.ts'),
});
await writeFile(join(outDir, 'workflow-bundle.js'), bundle.code);
process.stdout.write(`built ${relative(root, outDir) || outDir}: node ${join(relative(root, outDir), 'src', 'cli', 'main.js')} --help\n`);
