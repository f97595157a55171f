// Worker Versioning on the real dev server: a release waiting for an operator on build 1 stays on
// build 1 after build 2 becomes current (it finishes there, retry included), while a release
// started afterwards runs on build 2. The release workflow is the real one; its activities are
// recording fakes, one set per build, so which build did the work is visible.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, type WorkerDeploymentVersion } from '@temporalio/common';
import proto from '@temporalio/proto';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { connectClient } from '../src/client/connect';
import { describeDeployment, pinnedReleasesQuery, releasesPinnedTo, setCurrentVersion } from '../src/client/deployment';
import { parseConfig } from '../src/config/load';
import type { ReleaseActivities } from '../src/contract/activities';
import { retryUpdate, statusQuery } from '../src/contract/messages';
import type { ReleaseStatus, ReleaseSummary } from '../src/contract/release';
import { SEARCH_ATTRIBUTE_TYPES } from '../src/contract/search-attributes';
import { startTemporalDevServer, type TemporalDevServer } from '../src/dev/stack/temporal';
import { createWorker, deploymentFromEnv } from '../worker/run';
import { eventually } from './support/eventually';

const config = parseConfig('', 'defaults');
const EventType = proto.temporal.api.enums.v1.EventType;

/** Every activity a build's worker ran, as "<activity>:<what>"; `refuseCoreImageOf` fails that release's image:core once. */
function recordingActivities(log: string[], refuseCoreImageOf?: string): ReleaseActivities {
  let refused = false;
  const notInRelease = () => Promise.reject(new Error('not part of a release'));
  return {
    async validateRelease({ tag }) {
      log.push(`validate:${tag}`);
      return { version: tag.slice(1), commit: 'c'.repeat(40), packages: config.packages.map((p) => ({ name: p.name, version: tag.slice(1) })) };
    },
    async preflightRelease({ tag }) {
      log.push(`preflight:${tag}`);
      return { checks: [] };
    },
    async buildPackage(i) {
      log.push(`build:${i.tag}:${i.package}`);
      return {
        package: i.package,
        version: i.version,
        files: [{ filename: `${i.package}-${i.version}.tar.gz`, kind: 'sdist', size: 1, sha256: 'a'.repeat(64) }],
      };
    },
    async publishPackage(i) {
      log.push(`publish:${i.package}`);
      return { package: i.package, uploaded: i.files.map((f) => f.filename), alreadyPresent: [] };
    },
    async waitUntilVisible(i) {
      log.push(`visible:${i.package}`);
      return { package: i.package, polls: 1 };
    },
    async publishImage(i) {
      log.push(`image:${i.tag}:${i.variant}`);
      if (i.tag === refuseCoreImageOf && i.variant === 'core' && !refused) {
        refused = true;
        throw ApplicationFailure.nonRetryable('the registry refused the push', 'ImagePushRefused');
      }
      return {
        variant: i.variant,
        tags: [`r:${i.version}-${i.variant}`],
        digest: `sha256:${'b'.repeat(64)}`,
        platforms: ['linux/amd64', 'linux/arm64'],
        latest: { moved: true, reason: 'newest' },
      };
    },
    async publishGitHubRelease(i) {
      log.push(`github-release:${i.tag}`);
      return { id: 7, url: `https://github.com/o/r/releases/tag/${i.tag}`, created: true, assetsUploaded: [], assetsUnchanged: [] };
    },
    retagLatest: notInRelease,
    runningReleaseVersions: notInRelease,
    runningReleases: notInRelease,
    tagRelease: notInRelease,
  };
}

/** The build ids that completed the workflow's tasks, in history order. */
async function workflowTaskBuilds(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    .map((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? '(unversioned)');
}

describe('Worker Versioning: a release finishes on the build that started it', { timeout: 6 * 60_000 }, () => {
  let dir: string;
  let temporal: TemporalDevServer;
  let connection: NativeConnection;
  let client: Client;
  const running: { worker: Worker; done: Promise<void> }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tagship-versioning-'));
    temporal = await startTemporalDevServer({ headless: true, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
    connection = await NativeConnection.connect({ address: temporal.address });
    client = await connectClient({ address: temporal.address, namespace: temporal.namespace });
  });

  after(async () => {
    for (const r of running) r.worker.shutdown();
    await Promise.all(running.map((r) => r.done.catch(() => undefined)));
    await connection?.close();
    await client?.connection.close();
    await temporal?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function startWorker(taskQueue: string, deployment: WorkerDeploymentVersion, activities: ReleaseActivities): Promise<void> {
    const settings = { workDir: join(dir, deployment.buildId, 'work'), artifactDir: join(dir, 'artifacts') };
    const worker = await createWorker(connection, { namespace: temporal.namespace, taskQueue, settings, deployment }, { activities });
    running.push({ worker, done: worker.run() });
  }

  it('TAGSHIP_WORKER_DEPLOYMENT and TAGSHIP_WORKER_BUILD_ID give the version; one without the other, or a dotted name, is refused', () => {
    assert.equal(deploymentFromEnv({}), undefined);
    assert.deepEqual(deploymentFromEnv({ TAGSHIP_WORKER_DEPLOYMENT: 'tagship', TAGSHIP_WORKER_BUILD_ID: '1.4.0+g1a2b3c' }), {
      deploymentName: 'tagship',
      buildId: '1.4.0+g1a2b3c',
    });
    assert.throws(() => deploymentFromEnv({ TAGSHIP_WORKER_BUILD_ID: 'b1' }), /TAGSHIP_WORKER_DEPLOYMENT and TAGSHIP_WORKER_BUILD_ID must be set together/);
    assert.throws(
      () => deploymentFromEnv({ TAGSHIP_WORKER_DEPLOYMENT: 'tag.ship', TAGSHIP_WORKER_BUILD_ID: 'b1' }),
      /TAGSHIP_WORKER_DEPLOYMENT=tag\.ship must be/,
    );
  });

  it('build 2 becoming current leaves the waiting release pinned to build 1, where the retry finishes it; a new release runs on build 2', async () => {
    const taskQueue = `versioning-${randomUUID()}`;
    const deploymentName = `tagship-${randomUUID().slice(0, 8)}`;
    const v1: WorkerDeploymentVersion = { deploymentName, buildId: 'build-1' };
    const v2: WorkerDeploymentVersion = { deploymentName, buildId: 'build-2' };
    const ranOn1: string[] = [];
    const ranOn2: string[] = [];

    await startWorker(taskQueue, v1, recordingActivities(ranOn1, 'v1.0.0'));
    assert.equal(await setCurrentVersion(client, v1, { waitMs: 60_000 }), undefined, 'before build 1, workflows were unversioned');

    const first = await client.workflow.start('release', { taskQueue, workflowId: `release-${randomUUID()}`, args: [{ config, tag: 'v1.0.0' }] });
    await eventually(
      'the first release to wait for an operator on image:core',
      () => first.query(statusQuery),
      (s: ReleaseStatus) => s.steps.some((step) => step.step === 'image:core' && step.state === 'waiting-for-operator'),
    );
    assert.deepEqual(
      await eventually(
        'visibility to list the release as pinned to build 1',
        () => releasesPinnedTo(client, v1),
        (ids) => ids.length === 1,
      ),
      [first.workflowId],
    );

    // The deploy: workers of build 2 start, build 2 becomes current; build 1's workers stay up.
    await startWorker(taskQueue, v2, recordingActivities(ranOn2));
    assert.equal(await setCurrentVersion(client, v2, { waitMs: 60_000 }), 'build-1');
    assert.equal((await describeDeployment(client, deploymentName))?.currentBuildId, 'build-2');

    assert.match(await first.executeUpdate(retryUpdate, { args: ['image:core'] }), /image:core: retry accepted/);
    const summary = (await first.result()) as ReleaseSummary;
    assert.equal(summary.images.length, config.variants.length);
    assert.equal(ranOn2.length, 0, 'nothing of the first release ran on build 2');
    assert.equal(ranOn1.filter((a) => a === 'image:v1.0.0:core').length, 2, 'the refused push and its retry both ran on build 1');
    const firstBuilds = await workflowTaskBuilds(first);
    assert.ok(firstBuilds.length > 1);
    assert.deepEqual([...new Set(firstBuilds)], ['build-1'], 'every workflow task of the first release completed on build 1');

    const second = await client.workflow.start('release', { taskQueue, workflowId: `release-${randomUUID()}`, args: [{ config, tag: 'v1.0.1' }] });
    await second.result();
    assert.deepEqual([...new Set(await workflowTaskBuilds(second))], ['build-2'], 'the new release ran on build 2');
    assert.ok(ranOn2.includes('validate:v1.0.1'));
    assert.ok(!ranOn1.some((a) => a.includes('v1.0.1')), 'nothing of the new release ran on build 1');

    // Drained: no release is pinned to build 1 any more, so its workers may stop.
    await eventually(
      `${pinnedReleasesQuery(v1)} to find nothing`,
      () => releasesPinnedTo(client, v1),
      (ids) => ids.length === 0,
    );
  });
});
