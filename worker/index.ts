// Worker entry point for `node --import tsx worker/index.ts` (the compose file uses `tagship worker`).
import { DEFAULT_TASK_QUEUE, settingsFromEnv } from '../activities/lib/settings';
import { runWorker } from './run';

await runWorker({
  address: process.env.TAGSHIP_TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
  namespace: process.env.TAGSHIP_NAMESPACE ?? 'default',
  taskQueue: process.env.TAGSHIP_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  settings: settingsFromEnv(),
  ...(process.env.TAGSHIP_METRICS_ADDRESS ? { metricsAddress: process.env.TAGSHIP_METRICS_ADDRESS } : {}),
});
