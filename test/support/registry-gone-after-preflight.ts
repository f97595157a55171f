// How a test gets image steps that fail on a release that passed preflight: the registry answers
// while preflight proves push permission, then goes away before any image is pushed (builds,
// uploads and the visibility check lie between the two).
import type { WorkflowHandle } from '@temporalio/client';
import { liveStatus } from '../../src/client/status';
import { startRegistry } from '../../src/dev/stack/registry';
import { eventually } from './eventually';

export async function registryGoneAfterPreflight(dataDir: string, port: number, start: () => Promise<{ readonly handle: WorkflowHandle }>): Promise<void> {
  const registry = await startRegistry({ dataDir, port });
  try {
    const { handle } = await start();
    await eventually(
      'preflight to pass while the registry answers',
      () => liveStatus(handle),
      (status) => status.steps.find((s) => s.step === 'preflight')?.state === 'succeeded',
      { timeoutMs: 120_000, intervalMs: 100, show: (status) => JSON.stringify(status.steps.slice(0, 3)) },
    );
  } finally {
    await registry.stop();
  }
}
