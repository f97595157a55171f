// One embedded stack + in-process worker shared by a test file: real Temporal dev server,
// pypiserver, docker-registry, git, uv and buildah.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config/load';
import type { TagshipConfig } from '../../src/config/schema';
import { createExampleRepo, EXAMPLE_DIR } from '../../src/dev/demo/example-repo';
import { connectClient, type TemporalTarget } from '../../src/client/connect';
import { configForStack, startEmbeddedStack, workerSettingsForStack, type EmbeddedStack } from '../../src/dev/stack/embedded';
import { createWorker } from '../../worker/run';

export interface ReleaseEnv {
  readonly root: string;
  readonly stack: EmbeddedStack;
  readonly repoDir: string;
  readonly config: TagshipConfig;
  readonly client: Client;
  readonly target: TemporalTarget;
  stop(): Promise<void>;
}

export async function startReleaseEnv(initialVersion: string, opts: { ui?: boolean } = {}): Promise<ReleaseEnv> {
  const root = await mkdtemp(join(tmpdir(), 'tagship-test-'));
  const stack = await startEmbeddedStack({ dataDir: join(root, 'stack'), headless: !opts.ui });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let connection: NativeConnection | undefined;
  try {
    const repo = await createExampleRepo(join(root, 'repo'), initialVersion);
    const config = configForStack(await loadConfig(join(EXAMPLE_DIR, 'tagship.toml')), stack, repo.dir);
    const taskQueue = `test-${Math.random().toString(36).slice(2)}`;
    const target: TemporalTarget = {
      address: stack.temporal.address,
      namespace: stack.temporal.namespace,
      taskQueue,
      uiUrl: stack.temporal.uiUrl,
      codec: stack.codec,
    };
    connection = await NativeConnection.connect({ address: stack.temporal.address });
    worker = await createWorker(connection, { namespace: target.namespace, taskQueue, settings: workerSettingsForStack(stack) });
    running = worker.run();
    const client = await connectClient(target);
    return {
      root,
      stack,
      repoDir: repo.dir,
      config,
      client,
      target,
      async stop() {
        worker?.shutdown();
        await running?.catch(() => undefined);
        await connection?.close();
        await client.connection.close();
        await stack.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await stack.stop();
    throw err;
  }
}
