// `tagship dev`: the embedded stack for trying tagship on one machine: Temporal dev server + UI,
// a local index, a local registry (with a linux/amd64 + linux/arm64 Python base image) and a worker
// wired to them. Ctrl-C stops everything.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { startEmbeddedStack, workerSettingsForStack } from './stack/embedded';
import { DEFAULT_TASK_QUEUE } from '../contract/workflow-ids';
import { runWorker } from '../../worker/run';

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run the embedded stack (Temporal + UI, local index, local registry with a Python base image) and a worker')
    .option('--data-dir <dir>', 'where the stack keeps its state between runs', '.tagship/dev')
    .option('--port <n>', 'Temporal frontend port', (v) => Number.parseInt(v, 10), 7233)
    .option('--ui-port <n>', 'Temporal UI port', (v) => Number.parseInt(v, 10), 8233)
    .option('--index-port <n>', 'local index (pypiserver) port', (v) => Number.parseInt(v, 10), 8234)
    .option('--registry-port <n>', 'local OCI registry port', (v) => Number.parseInt(v, 10), 5000)
    .action(async (opts: { dataDir: string; port: number; uiPort: number; indexPort: number; registryPort: number }) => {
      const ports = [
        ['--port', opts.port],
        ['--ui-port', opts.uiPort],
        ['--index-port', opts.indexPort],
        ['--registry-port', opts.registryPort],
      ] as const;
      for (const [flag, port] of ports) {
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${flag} must be a port number (1-65535)`);
      }
      const stack = await startEmbeddedStack({
        dataDir: resolve(opts.dataDir),
        temporalPort: opts.port,
        uiPort: opts.uiPort,
        indexPort: opts.indexPort,
        registryPort: opts.registryPort,
        persistent: true,
      });
      try {
        process.stdout.write(
          [
            'tagship dev stack is up (Ctrl-C stops it):',
            `  Temporal      ${stack.temporal.address}   UI ${stack.temporal.uiUrl}`,
            `  index upload  ${stack.index.uploadUrl}   simple ${stack.index.simpleUrl}`,
            `  registry      ${stack.registry.host}`,
            `  base image    ${stack.baseImage}   (linux/amd64, linux/arm64)`,
            '',
            'Point a tagship.toml at it:',
            `  [index]  upload_url = "${stack.index.uploadUrl}"  simple_url = "${stack.index.simpleUrl}"  auth = "token"`,
            `  [images] repository = "${stack.registry.host}/<owner>/<name>"  builder = "buildah"  insecure = true`,
            `  [images.build_args]  BASE_IMAGE = "${stack.baseImage}"   (for ARG BASE_IMAGE / FROM \${BASE_IMAGE})`,
            `and run: TAGSHIP_TEMPORAL_ADDRESS=${stack.temporal.address} TAGSHIP_CODEC_KEYS_FILE=${stack.codecKeysFile} tagship release start vX.Y.Z --wait`,
            '',
          ].join('\n'),
        );
        await runWorker({
          address: stack.temporal.address,
          namespace: stack.temporal.namespace,
          taskQueue: process.env.TAGSHIP_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
          settings: workerSettingsForStack(stack),
        });
      } finally {
        await stack.stop();
      }
    });
}
