// Runs a tagship worker: registers the release workflows and this machine's activities on the
// task queue. Shutdown is graceful: SIGINT/SIGTERM stop polling, let running activities finish
// (up to shutdownGraceTime), then the process exits; unfinished work is retried elsewhere.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker, type RuntimeOptions, type WorkerOptions } from '@temporalio/worker';
import { redactingLogger } from '../activities/lib/redactor';
import { createActivities } from '../activities';
import { sweepLeftovers } from '../activities/lib/leftovers';
import type { WorkerSettings } from '../activities/lib/settings';
import { connectError, connectionOptions, type TemporalTarget } from '../src/client/connect';
import { dataConverter } from '../src/codec/data-converter';

// Compiled (dist/) this module is run.js next to workflows/index.js; from source it is run.ts.
const compiled = import.meta.url.endsWith('.js');
export const workflowsPath = fileURLToPath(new URL(`../workflows/index.${compiled ? 'js' : 'ts'}`, import.meta.url));

/** Where `npm run build` puts the prebuilt workflow bundle: dist/workflow-bundle.js, beside dist/worker/. */
export const prebuiltBundlePath = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

export interface WorkerRunOptions extends Pick<TemporalTarget, 'address' | 'namespace' | 'taskQueue' | 'transport' | 'profile'> {
  readonly settings: WorkerSettings;
  /** host:port for a Prometheus /metrics endpoint of the SDK's runtime metrics. */
  readonly metricsAddress?: string;
  /** This build's Worker Deployment Version; unset, the worker is unversioned. runWorker reads it from the environment. */
  readonly deployment?: WorkerDeploymentVersion;
}

let runtimeInstalled = false;

// The worker's log passes through the redactor too: a line logged outside any activity call (the
// SDK's own, a sweep's) loses every secret of every worker in this process.
export function installWorkerRuntime(metricsAddress?: string, extra: Pick<RuntimeOptions, 'shutdownSignals'> = {}): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: redactingLogger(new DefaultLogger('INFO')),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
    ...extra,
  });
  runtimeInstalled = true;
}

/**
 * The workflow code: a bundle built ahead (TAGSHIP_WORKFLOW_BUNDLE, else the build's own next to
 * this module) so a production worker starts without webpack; from source, bundled at start.
 */
export function workflowCode(env: NodeJS.ProcessEnv = process.env): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const explicit = env.TAGSHIP_WORKFLOW_BUNDLE;
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`TAGSHIP_WORKFLOW_BUNDLE=${explicit}: no such file (npm run build writes dist/workflow-bundle.js)`);
    return { workflowBundle: { codePath: explicit } };
  }
  if (existsSync(prebuiltBundlePath)) return { workflowBundle: { codePath: prebuiltBundlePath } };
  return { workflowsPath };
}

// Deployment names and build ids end up in task routing and in the `deploymentName.buildId` form
// the server and CLI print; keep them to characters every one of those places takes as they are.
const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;
const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;

/** TAGSHIP_WORKER_DEPLOYMENT and TAGSHIP_WORKER_BUILD_ID, both or neither: this worker's Deployment Version. */
export function deploymentFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerDeploymentVersion | undefined {
  const deploymentName = env.TAGSHIP_WORKER_DEPLOYMENT || undefined;
  const buildId = env.TAGSHIP_WORKER_BUILD_ID || undefined;
  if (!deploymentName && !buildId) return undefined;
  if (!deploymentName || !buildId) throw new Error('TAGSHIP_WORKER_DEPLOYMENT and TAGSHIP_WORKER_BUILD_ID must be set together (Worker Versioning)');
  if (!DEPLOYMENT_NAME.test(deploymentName)) {
    throw new Error(`TAGSHIP_WORKER_DEPLOYMENT=${deploymentName} must be letters, digits, '-' and '_' (up to 200, no '.')`);
  }
  if (!BUILD_ID.test(buildId)) throw new Error(`TAGSHIP_WORKER_BUILD_ID=${buildId} must be letters, digits, '.', '_', '+' and '-' (up to 200)`);
  return { deploymentName, buildId };
}

/**
 * Worker Versioning: each workflow stays on the build that started it (PINNED) unless the workflow
 * says otherwise (a long-lived schedule's workflow may AUTO_UPGRADE), so a release runs its whole
 * history on one code version while a new build takes new releases.
 */
function versioning(deployment: WorkerDeploymentVersion | undefined): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  if (!deployment) return {};
  return { workerDeploymentOptions: { useWorkerVersioning: true, version: deployment, defaultVersioningBehavior: 'PINNED' } };
}

function limits(settings: WorkerSettings): Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'> {
  const l = settings.limits;
  return {
    ...(l?.activities !== undefined ? { maxConcurrentActivityTaskExecutions: l.activities } : {}),
    ...(l?.workflowTasks !== undefined ? { maxConcurrentWorkflowTaskExecutions: l.workflowTasks } : {}),
  };
}

/** Creates (but does not run) a worker; tests and `tagship dev` use this directly. */
export async function createWorker(
  connection: NativeConnection,
  opts: Pick<WorkerRunOptions, 'namespace' | 'taskQueue' | 'settings' | 'deployment'>,
  extra: Partial<WorkerOptions> = {},
): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflowCode(),
    activities: createActivities(opts.settings),
    dataConverter: dataConverter(opts.settings.codec),
    shutdownGraceTime: '30s',
    // An abort reaches a running step only with a heartbeat's answer: without this cap the SDK
    // holds heartbeats back up to 0.8 × the heartbeat timeout (96 s for an image step).
    maxHeartbeatThrottleInterval: '5s',
    ...limits(opts.settings),
    ...versioning(opts.deployment),
    ...extra,
  });
}

/** Clears what a dead worker on this machine left (orphaned builds, temporary dirs), before this one takes work. */
async function sweep(settings: WorkerSettings): Promise<void> {
  const report = await sweepLeftovers(settings);
  for (const group of report.killed) {
    process.stderr.write(`tagship worker: killed ${group.processes} orphaned process(es) of a dead worker's ${group.command} (process group ${group.pgid})\n`);
  }
  if (report.removed.length > 0) {
    process.stderr.write(
      `tagship worker: removed ${report.removed.length} temporary director${report.removed.length === 1 ? 'y' : 'ies'} of dead workers: ${report.removed.join(', ')}\n`,
    );
  }
}

export async function runWorker(opts: WorkerRunOptions): Promise<void> {
  installWorkerRuntime(opts.metricsAddress);
  const deployment = opts.deployment ?? deploymentFromEnv();
  await sweep(opts.settings);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(connectionOptions(opts));
  } catch (err) {
    throw await connectError(opts, err);
  }
  try {
    const code = workflowCode();
    const worker = await createWorker(connection, { ...opts, ...(deployment ? { deployment } : {}) }, code);
    const bundle = code.workflowBundle && 'codePath' in code.workflowBundle ? code.workflowBundle.codePath : undefined;
    process.stderr.write(`tagship worker: workflows from ${bundle ? `the prebuilt bundle ${bundle}` : `${workflowsPath} (bundled at start)`}\n`);
    if (deployment) process.stderr.write(`tagship worker: Worker Deployment ${deployment.deploymentName}, build ${deployment.buildId} (workflows pinned)\n`);
    await worker.run();
  } finally {
    await connection.close();
  }
}
