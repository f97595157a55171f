// `tagship dev`: the embedded stack for trying tagship on one machine: Temporal dev server + UI,
// a local index, a local registry (with a linux/amd64 + linux/arm64 Python base image) and a worker
// wired to them. Ctrl-C stops everything.
//
// The stack is this process's: its servers die with it, however it ends (src/dev/stack/service.ts),
// and a port something else holds stops the start with that something's name instead of the
// stack quietly using it. SIGINT, SIGTERM and SIGHUP (the terminal closing) all stop in order:
// during start-up, what has started is stopped; once up, the worker finishes what it runs (up
// to its grace time) and then the servers stop. A second signal stops at once.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { startEmbeddedStack, workerSettingsForStack } from './stack/embedded';
import { PortInUseError } from './stack/ports';
import { DEFAULT_TASK_QUEUE } from '../contract/workflow-ids';
import { installWorkerRuntime, runWorker } from '../../worker/run';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** A shell's code for "ended by SIGINT", for a start that was interrupted. */
const EXIT_INTERRUPTED = 130;

class Interrupted extends Error {
  override name = 'Interrupted';
}

interface DevOptions {
  dataDir: string;
  port: number;
  uiPort: number;
  indexPort: number;
  registryPort: number;
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run the embedded stack (Temporal + UI, local index, local registry with a Python base image) and a worker')
    .option('--data-dir <dir>', 'where the stack keeps its state between runs', '.tagship/dev')
    .option('--port <n>', 'Temporal frontend port', (v) => Number.parseInt(v, 10), 7233)
    .option('--ui-port <n>', 'Temporal UI port', (v) => Number.parseInt(v, 10), 8233)
    .option('--index-port <n>', 'local index (pypiserver) port', (v) => Number.parseInt(v, 10), 8234)
    .option('--registry-port <n>', 'local OCI registry port', (v) => Number.parseInt(v, 10), 5000)
    .action(async (opts: DevOptions) => {
      const ports = [
        ['--port', opts.port],
        ['--ui-port', opts.uiPort],
        ['--index-port', opts.indexPort],
        ['--registry-port', opts.registryPort],
      ] as const;
      for (const [flag, port] of ports) {
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${flag} must be a port number (1-65535)`);
      }
      if (new Set(ports.map(([, port]) => port)).size !== ports.length) throw new Error('--port, --ui-port, --index-port and --registry-port must differ');
      await runDev(opts, (port) => ports.find(([, p]) => p === port)?.[0]);
    });
}

async function runDev(opts: DevOptions, flagFor: (port: number) => string | undefined): Promise<void> {
  const starting = new AbortController();
  let phase: 'starting' | 'running' = 'starting';
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // Exiting kills every server of the stack (service.ts), without waiting for the worker.
      process.stderr.write(`tagship dev: ${signal} again: stopping now\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write(`tagship dev: ${signal}: stopping (${signal} again stops at once)\n`);
    // Once running, the Temporal runtime installed below hears the same signal and shuts the worker down.
    if (phase === 'starting') starting.abort(new Interrupted(`${signal} while the stack was starting`));
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  try {
    let stack;
    try {
      stack = await startEmbeddedStack({
        dataDir: resolve(opts.dataDir),
        temporalPort: opts.port,
        uiPort: opts.uiPort,
        indexPort: opts.indexPort,
        registryPort: opts.registryPort,
        persistent: true,
        signal: starting.signal,
      });
    } catch (err) {
      if (err instanceof Interrupted) {
        process.stderr.write(`tagship dev: ${err.message}; what had started is stopped\n`);
        process.exitCode = EXIT_INTERRUPTED;
        return;
      }
      if (err instanceof PortInUseError) {
        const flag = flagFor(err.port);
        throw new Error(`${err.message}; stop it${flag ? `, or give tagship dev another ${flag}` : ''}`, { cause: err });
      }
      throw err;
    }
    if (starting.signal.aborted) {
      await stack.stop();
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    try {
      // The runtime's own signal handling (stop polling, let running activities finish), with the
      // terminal's hang-up among its signals; it is installed before the worker would create it.
      installWorkerRuntime(undefined, { shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'] });
      phase = 'running';
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
      // The stack's worker always encrypts payloads with the stack's keys (codec-keys in the data dir).
      await runWorker({
        address: stack.temporal.address,
        namespace: stack.temporal.namespace,
        taskQueue: process.env.TAGSHIP_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
        settings: workerSettingsForStack(stack),
      });
    } finally {
      await stack.stop();
    }
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
}
