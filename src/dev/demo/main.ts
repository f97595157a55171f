// `npm run demo`: release the example monorepo (examples/open-ticket-ai) on the embedded stack and
// print what landed where: every file with its sha256 on the index, every image tag and platform.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../../config/load';
import { connectClient } from '../../client/connect';
import { followRelease } from '../../client/follow';
import { startRelease } from '../../client/start';
import { configForStack, startEmbeddedStack, workerSettingsForStack } from '../stack/embedded';
import { formatStep, formatSummary } from '../../client/summary-format';
import { createWorker } from '../../../worker/run';
import { createExampleRepo, EXAMPLE_DIR } from './example-repo';

const VERSION = process.env.TAGSHIP_DEMO_VERSION ?? '1.0.18';

async function demo(): Promise<number> {
  // The summary is the output; the worker's lifecycle chatter is not.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const root = await mkdtemp(join(tmpdir(), 'tagship-demo-'));
  const t0 = Date.now();
  process.stdout.write('Starting the embedded stack (Temporal dev server, pypiserver, docker-registry)…\n');
  const stack = await startEmbeddedStack({ dataDir: join(root, 'stack') });
  try {
    const repo = await createExampleRepo(join(root, 'open-ticket-ai'), VERSION);
    const config = configForStack(await loadConfig(join(EXAMPLE_DIR, 'tagship.toml')), stack, repo.dir);
    process.stdout.write(`Example monorepo tagged ${repo.tag} at ${repo.commit.slice(0, 12)} in ${repo.dir}\n`);

    const connection = await NativeConnection.connect({ address: stack.temporal.address });
    const target = { ...stack.temporal, taskQueue: 'tagship-demo', codec: stack.codec };
    const worker = await createWorker(connection, { namespace: target.namespace, taskQueue: target.taskQueue, settings: workerSettingsForStack(stack) });
    const client = await connectClient(target);
    try {
      return await worker.runUntil(async () => {
        const started = await startRelease(client, target, config, repo.tag);
        process.stdout.write(`Release ${started.workflowId} (UI: ${stack.temporal.uiUrl})\n`);
        const tRelease = Date.now();
        const summary = await followRelease(started.handle, (e) => {
          const line = formatStep(e);
          if (line) process.stdout.write(`${line}\n`);
        });
        process.stdout.write(`\n${formatSummary(summary)}\n\n`);
        process.stdout.write(`Release took ${((Date.now() - tRelease) / 1000).toFixed(1)}s (${((Date.now() - t0) / 1000).toFixed(1)}s with stack start-up).\n`);
        return 0;
      });
    } finally {
      await client.connection.close();
      await connection.close();
    }
  } finally {
    await stack.stop();
    await rm(root, { recursive: true, force: true });
  }
}

demo().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
