// Runs a tagship worker: registers the release workflows and this machine's activities on the
// task queue. Shutdown is graceful: SIGINT/SIGTERM stop polling, let running activities finish
// (up to shutdownGraceTime), then the process exits; unfinished work is retried elsewhere.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { dataConverter } from '../src/codec/data-converter';
import type { WorkerSettings } from '../activities/lib/settings';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerRunOptions {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly settings: WorkerSettings;
  /** host:port for a Prometheus /metrics endpoint of the SDK's runtime metrics. */
  readonly metricsAddress?: string;
}

let runtimeInstalled = false;

function installRuntime(metricsAddress: string | undefined): void {
  if (runtimeInstalled || !metricsAddress) return;
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } });
  runtimeInstalled = true;
}

/** Creates (but does not run) a worker; tests and `tagship dev` use this directly. */
export async function createWorker(
  connection: NativeConnection,
  opts: Omit<WorkerRunOptions, 'address' | 'metricsAddress'>,
  extra: Partial<WorkerOptions> = {},
): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowsPath,
    activities: createActivities(opts.settings),
    dataConverter: dataConverter(opts.settings.codec),
    shutdownGraceTime: '30s',
    ...extra,
  });
}

export async function runWorker(opts: WorkerRunOptions): Promise<void> {
  installRuntime(opts.metricsAddress);
  const connection = await NativeConnection.connect({ address: opts.address });
  try {
    const worker = await createWorker(connection, opts);
    await worker.run();
  } finally {
    await connection.close();
  }
}
