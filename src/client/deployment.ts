// Worker Versioning from the outside: which build of the workers new releases go to (the Worker
// Deployment's Current Version), and which running releases stay pinned to an older build until
// they finish. A deploy starts workers of the new build (TAGSHIP_WORKER_BUILD_ID), waits until the
// server has seen them poll, then makes that build current; the old build's workers keep running
// until no release is pinned to them any more.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import proto from '@temporalio/proto';

const VersionStatus = proto.temporal.api.enums.v1.WorkerDeploymentVersionStatus;

export type VersionStatusName = 'inactive' | 'current' | 'ramping' | 'draining' | 'drained' | 'created' | 'unknown';

export interface DeploymentVersionState {
  readonly buildId: string;
  /** inactive: polled, never current; draining: no longer current, pinned workflows still open; drained: none left. */
  readonly status: VersionStatusName;
}

export interface DeploymentState {
  readonly deploymentName: string;
  /** The build new workflows start on; absent while unversioned workers take them. */
  readonly currentBuildId?: string;
  readonly rampingBuildId?: string;
  readonly versions: readonly DeploymentVersionState[];
}

function statusName(status: number | null | undefined): VersionStatusName {
  switch (status) {
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE:
      return 'inactive';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT:
      return 'current';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING:
      return 'ramping';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING:
      return 'draining';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED:
      return 'drained';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED:
      return 'created';
    default:
      return 'unknown';
  }
}

const isNotFound = (err: unknown) => (err as { code?: unknown }).code === 5;

/** The deployment's routing and its builds; undefined when no worker of it has polled yet. */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentState | undefined> {
  let info: proto.temporal.api.deployment.v1.IWorkerDeploymentInfo | null | undefined;
  try {
    info = (await client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName })).workerDeploymentInfo;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const routing = info?.routingConfig;
  const current = routing?.currentDeploymentVersion?.buildId;
  const ramping = routing?.rampingDeploymentVersion?.buildId;
  return {
    deploymentName,
    ...(current ? { currentBuildId: current } : {}),
    ...(ramping ? { rampingBuildId: ramping } : {}),
    versions: (info?.versionSummaries ?? []).flatMap((v) => {
      const buildId = v.deploymentVersion?.buildId;
      return buildId ? [{ buildId, status: statusName(v.status) }] : [];
    }),
  };
}

export interface SetCurrentOptions {
  /** Who made the change, as the deployment's history records it. */
  readonly identity?: string;
  /** How long to wait for the new build's workers to poll (the server refuses a build it has not seen). Default 60 s. */
  readonly waitMs?: number;
}

/**
 * Makes `version` the Current Version of its deployment: new releases (and auto-upgrading
 * workflows) go to its workers, pinned releases stay where they are. Waits until the server has
 * seen workers of the build poll; returns the build that was current before (undefined: unversioned).
 * The same as `temporal worker deployment set-current-version --deployment-name <name> --build-id <id>`.
 */
export async function setCurrentVersion(client: Client, version: WorkerDeploymentVersion, opts: SetCurrentOptions = {}): Promise<string | undefined> {
  const deadline = Date.now() + (opts.waitMs ?? 60_000);
  for (;;) {
    const state = await describeDeployment(client, version.deploymentName);
    if (state?.versions.some((v) => v.buildId === version.buildId)) break;
    if (Date.now() >= deadline) {
      throw new Error(
        `no worker of ${version.deploymentName} build ${version.buildId} has polled yet; start workers with TAGSHIP_WORKER_DEPLOYMENT=${version.deploymentName} TAGSHIP_WORKER_BUILD_ID=${version.buildId} first`,
      );
    }
    await sleep(500);
  }
  const answer = await client.workflowService.setWorkerDeploymentCurrentVersion({
    namespace: client.options.namespace,
    deploymentName: version.deploymentName,
    buildId: version.buildId,
    identity: opts.identity ?? client.options.identity,
  });
  return answer.previousDeploymentVersion?.buildId || undefined;
}

const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The visibility query for the releases still running pinned to `version`: while it finds any,
 * that build's workers must keep running. Paste it into the UI's workflow search or
 * `temporal workflow list --query`.
 */
export function pinnedReleasesQuery(version: WorkerDeploymentVersion): string {
  return [
    `WorkflowType = 'release'`,
    `ExecutionStatus = 'Running'`,
    `TemporalWorkflowVersioningBehavior = 'Pinned'`,
    `TemporalWorkerDeploymentVersion = ${quoted(`${version.deploymentName}:${version.buildId}`)}`,
  ].join(' AND ');
}

/** The workflow ids of the releases running pinned to `version` (visibility lags history by a moment). */
export async function releasesPinnedTo(client: Client, version: WorkerDeploymentVersion): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: pinnedReleasesQuery(version) })) ids.push(wf.workflowId);
  return ids;
}
