// The production installation: `npm run build` compiles to JavaScript and prebuilds the workflow
// bundle; laid out as the image lays it out (package.json, node_modules, bin/, dist/, and no
// sources), plain Node runs the CLI and a worker that completes a real workflow from the prebuilt
// bundle, with and without payload encryption.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { access, copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { connectClient } from '../src/client/connect';
import { generateKeySpec, keyRingFromEnv } from '../src/codec/encryption-codec';
import { parseConfig } from '../src/config/load';
import type { RepublishLatestSummary } from '../src/contract/release';
import { SEARCH_ATTRIBUTE_TYPES } from '../src/contract/search-attributes';
import { startTemporalDevServer, type TemporalDevServer } from '../src/dev/stack/temporal';
import { eventually } from './support/eventually';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('production build: compiled CLI and worker with a prebuilt workflow bundle', { timeout: 10 * 60_000 }, () => {
  let dir: string;
  let install: string;
  let temporal: TemporalDevServer;

  /** A command of the installed tagship, with only the environment given (nothing of this shell's TEMPORAL_*). */
  const tagship = (args: string[], env: Record<string, string> = {}) =>
    execa(process.execPath, [join(install, 'bin', 'tagship.js'), ...args], {
      extendEnv: false,
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
      reject: false,
      all: true,
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tagship-prod-build-'));
    install = join(dir, 'opt', 'tagship');
    await execa('npm', ['run', 'build', '--', '--out-dir', join(install, 'dist')], { cwd: ROOT });
    // The image's layout: package.json, production dependencies only (no tsx, no TypeScript), bin/
    // and dist/; no sources.
    await mkdir(join(install, 'bin'), { recursive: true });
    for (const file of ['package.json', 'package-lock.json', join('bin', 'tagship.js')]) await copyFile(join(ROOT, file), join(install, file));
    await execa('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: install });
    temporal = await startTemporalDevServer({ headless: true, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  });

  after(async () => {
    await temporal?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('dist holds JavaScript and the workflow bundle only: no TypeScript, no dev stack, nothing that loads tsx', async () => {
    await assert.rejects(access(join(install, 'node_modules', 'tsx')), 'tsx is a development dependency');
    const files = await filesUnder(join(install, 'dist'));
    assert.ok(files.includes('workflow-bundle.js'));
    assert.ok(files.includes(join('src', 'cli', 'main.js')));
    assert.ok(files.includes(join('worker', 'run.js')));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts')),
      [],
    );
    assert.deepEqual(
      files.filter((f) => f.startsWith(join('src', 'dev'))),
      [],
    );
    for (const file of files.filter((f) => f.endsWith('.js') && f !== 'workflow-bundle.js')) {
      assert.doesNotMatch(await readFile(join(install, 'dist', file), 'utf8'), /from 'tsx|import\('tsx/, `${file} loads tsx`);
    }
  });

  it('the CLI runs from dist with plain Node; `tagship dev` says it is not in this installation', async () => {
    const help = await tagship(['--help']);
    assert.equal(help.exitCode, 0, help.all);
    for (const command of ['release', 'worker', 'server', 'setup', 'schedule']) assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    const dev = await tagship(['dev']);
    assert.equal(dev.exitCode, 2, dev.all);
    assert.match(dev.stderr, /tagship dev: the embedded dev stack is not in this installation/);
  });

  for (const encrypted of [false, true]) {
    it(`a compiled worker${encrypted ? ' with payload encryption (TAGSHIP_CODEC_KEYS)' : ''} runs a workflow from the prebuilt bundle to completion`, async () => {
      const taskQueue = `build-${randomUUID()}`;
      const keys = encrypted ? { TAGSHIP_CODEC_KEYS: generateKeySpec() } : {};
      // Production refuses to run without keys; the unencrypted run says so explicitly.
      const args = ['worker', ...(encrypted ? [] : ['--insecure-plaintext-history'])];
      const worker: ResultPromise<{ all: true; reject: false }> = execa(process.execPath, [join(install, 'bin', 'tagship.js'), ...args], {
        extendEnv: false,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: dir,
          TAGSHIP_HOME: join(dir, `home-${taskQueue}`),
          TAGSHIP_TEMPORAL_ADDRESS: temporal.address,
          TAGSHIP_TASK_QUEUE: taskQueue,
          ...keys,
        },
        all: true,
        reject: false,
      });
      let output = '';
      worker.all.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const client = await connectClient({ address: temporal.address, namespace: temporal.namespace, codec: keyRingFromEnv(keys) });
      try {
        const ready = `workflows from the prebuilt bundle ${join(install, 'dist', 'workflow-bundle.js')}`;
        const started = await eventually(
          'the worker to say it runs the prebuilt bundle (or to exit)',
          () => ({ output, exited: worker.exitCode !== null }),
          (s) => s.exited || s.output.includes(ready),
        );
        assert.ok(!started.exited, `the worker exited:\n${started.output}`);
        // republishLatest with no image variants: the real workflow and activity (a visibility query)
        // and nothing that needs a registry.
        const config = { ...parseConfig('', 'defaults'), variants: [] };
        const summary = (await client.workflow.execute('republishLatest', {
          taskQueue,
          workflowId: `republish-${taskQueue}`,
          args: [{ config }],
          workflowExecutionTimeout: '2m',
        })) as RepublishLatestSummary;
        assert.deepEqual(summary, { variants: [] });
        assert.doesNotMatch(output, /webpack/i, 'no bundling at worker start');
      } finally {
        worker.kill('SIGTERM');
        const exited = await worker;
        await client.connection.close();
        assert.ok(exited.exitCode === 0 || exited.signal === 'SIGTERM', exited.all);
      }
    });
  }
});
