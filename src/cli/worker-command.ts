// `tagship worker`: run a worker against a Temporal server (see README for the environment).
import type { Command } from 'commander';
import { targetFromEnv } from '../client/connect';
import { settingsFromEnv } from '../../worker/settings';
import { runWorker } from '../../worker/run';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: the release workflow and its activities (git, uv, index, builder, registry)')
    .option('--metrics <host:port>', 'serve Prometheus metrics of the SDK runtime', process.env.TAGSHIP_METRICS_ADDRESS)
    .action(async (opts: { metrics?: string }) => {
      const target = targetFromEnv();
      process.stderr.write(`tagship worker: ${target.address} namespace ${target.namespace} task queue ${target.taskQueue}\n`);
      await runWorker({
        address: target.address,
        namespace: target.namespace,
        taskQueue: target.taskQueue,
        settings: settingsFromEnv(),
        ...(opts.metrics ? { metricsAddress: opts.metrics } : {}),
      });
    });
}
