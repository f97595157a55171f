// The release workflow's orchestration, with the activities replaced by recording fakes, on the
// real time-skipping test server (so retry back-offs take no wall time).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { parseConfig } from '../src/config/load';
import type { ReleaseStatus, ReleaseSummary } from '../src/contract/release';
import { Context } from '@temporalio/activity';
import { abortUpdate, oidcTokenSignal, releaseUnderWayUpdate, retrySignal, retryUpdate, skipUpdate, statusQuery } from '../src/contract/messages';
import { tools } from '../activities/lib/tools';
import type { createActivities } from '../activities';
import { workflowsPath } from '../worker/run';
import { eventually } from './support/eventually';

type Activities = ReturnType<typeof createActivities>;

const showSteps = (status: ReleaseStatus) => `${status.state}: ${status.steps.map((s) => `${s.step}=${s.state}`).join(', ')}`;
const config = parseConfig('', 'defaults');

function fakeActivities(log: string[], overrides: Partial<Activities> = {}): Activities {
  return {
    async validateRelease({ tag }) {
      log.push('validate');
      return { version: tag.slice(1), commit: 'c'.repeat(40), packages: config.packages.map((p) => ({ name: p.name, version: tag.slice(1) })) };
    },
    async preflightRelease() {
      log.push('preflight');
      return { checks: [{ check: 'registry push', detail: 'push allowed' }] };
    },
    async buildPackage(i) {
      log.push(`build:${i.package}`);
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
      log.push(`image:${i.variant}`);
      return {
        variant: i.variant,
        tags: [`r:${i.version}-${i.variant}`],
        digest: `sha256:${'b'.repeat(64)}`,
        platforms: ['linux/amd64', 'linux/arm64'],
        latest: { moved: true, reason: 'newest' },
      };
    },
    async publishGitHubRelease(i) {
      log.push(`github-release:${i.tag}:${i.files.length} files:${i.images.length} images`);
      return { id: 7, url: `https://github.com/o/r/releases/tag/${i.tag}`, created: true, assetsUploaded: ['SHA256SUMS', 'images.txt'], assetsUnchanged: [] };
    },
    async retagLatest() {
      throw new Error('not part of a release');
    },
    async tagRelease() {
      throw new Error('not part of a release');
    },
    async runningReleases() {
      return [];
    },
    async runningReleaseVersions() {
      throw new Error('not part of a release');
    },
    ...overrides,
  };
}

describe('release workflow', { timeout: 5 * 60_000 }, () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  /** Each run its own task queue and workflow id, whatever ran before it. */
  const unique = () => {
    const id = randomUUID();
    return { taskQueue: `wf-${id}`, workflowId: `release-test-${id}` };
  };

  // The real dev server for every test, and the time-skipping test server only for the waits that
  // last minutes or days: the test server records a cancelled activity without the started event
  // the real server writes, which the SDK refuses, and releases cancel their running steps when
  // they end early.
  let timeEnv: TestWorkflowEnvironment;
  before(async () => {
    env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: tools.temporal() } } });
    timeEnv = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tools.temporalTestServer() } } });
    bundle = await bundleWorkflowCode({ workflowsPath });
  });
  after(async () => {
    await env?.teardown();
    await timeEnv?.teardown();
  });

  async function run(activities: Activities, input: { tag: string; dryRun?: boolean }): Promise<ReleaseSummary> {
    const { taskQueue, workflowId } = unique();
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
    return worker.runUntil(env.client.workflow.execute('release', { taskQueue, workflowId, args: [{ config, ...input }] }) as Promise<ReleaseSummary>);
  }

  it('runs validate, then every build, then publish → visible per package, then every image variant', async () => {
    const log: string[] = [];
    const summary = await run(fakeActivities(log), { tag: 'v1.0.18' });
    assert.equal(log[0], 'validate');
    const lastBuild = Math.max(...config.packages.map((p) => log.indexOf(`build:${p.name}`)));
    const firstPublish = Math.min(...config.packages.map((p) => log.indexOf(`publish:${p.name}`)));
    assert.ok(lastBuild < firstPublish, 'nothing is uploaded before every package built');
    for (const v of config.variants) {
      const img = log.indexOf(`image:${v.name}`);
      assert.ok(img > 0, `image ${v.name} built`);
      for (const p of v.packages) assert.ok(log.indexOf(`visible:${p}`) < img, `${v.name} waits for ${p}`);
    }
    assert.equal(summary.images.length, 4);
    assert.equal(summary.packages.length, 3);
  });

  it('creates the GitHub Release last, with every distribution and image, and names it in the summary', async () => {
    const log: string[] = [];
    const summary = await run(fakeActivities(log), { tag: 'v1.0.18' });
    assert.equal(log.at(-1), 'github-release:v1.0.18:3 files:4 images');
    assert.deepEqual(summary.githubRelease, { id: 7, url: 'https://github.com/o/r/releases/tag/v1.0.18' });
  });

  it('a release whose config was recorded before [github_release] existed gets no GitHub Release step', async () => {
    const log: string[] = [];
    const { github_release: _omitted, ...old } = config;
    const { taskQueue, workflowId } = unique();
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: fakeActivities(log) });
    const summary = (await worker.runUntil(
      env.client.workflow.execute('release', { taskQueue, workflowId, args: [{ config: old, tag: 'v1.0.18' }] }),
    )) as ReleaseSummary;
    assert.ok(!log.some((l) => l.startsWith('github-release')));
    assert.equal(summary.githubRelease, undefined);
  });

  it('built metadata that contradicts the tag stops the release at once, with nothing uploaded', async () => {
    const log: string[] = [];
    const started = Date.now();
    await assert.rejects(
      run(
        fakeActivities(log, {
          async buildPackage(i) {
            log.push(`build:${i.package}`);
            if (i.package === 'otai-hf-local') {
              throw ApplicationFailure.nonRetryable(
                "ERROR: Tag version (1.0.18) doesn't match package version (1.0.17)\n  package otai-hf-local",
                'VersionMismatch',
              );
            }
            return { package: i.package, version: i.version, files: [] };
          },
        }),
        { tag: 'v1.0.18' },
      ),
      (err: unknown) =>
        err instanceof WorkflowFailedError &&
        /Tag version \(1\.0\.18\) doesn't match package version \(1\.0\.17\)/.test(
          String((err.cause?.cause as Error | undefined)?.message ?? err.cause?.message),
        ),
    );
    assert.ok(!log.some((l) => l.startsWith('publish:')));
    assert.ok(Date.now() - started < 60_000);
  });

  it('says in the build step when files built by an earlier run of the commit were reused', async () => {
    const log: string[] = [];
    const base = fakeActivities(log);
    const { taskQueue, workflowId } = unique();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: fakeActivities(log, { buildPackage: async (i) => ({ ...(await base.buildPackage(i)), reusedFrom: '2026-11-26T10:00:00.000Z' }) }),
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('release', { taskQueue, workflowId, args: [{ config, tag: 'v1.0.18', dryRun: true }] });
      await handle.result();
      const status = await handle.query(statusQuery);
      assert.match(
        status.steps.find((s) => s.step === 'build:open-ticket-ai')?.note ?? '',
        /reused the files an earlier run of this commit built at 2026-11-26T10:00:00\.000Z/,
      );
    });
  });

  it('starts a variant as soon as its own packages are visible, not when all are', async () => {
    const log: string[] = [];
    let coreImageStarted!: () => void;
    const coreImage = new Promise<void>((r) => (coreImageStarted = r));
    const base = fakeActivities(log);
    const summary = await run(
      fakeActivities(log, {
        // The plugin stays invisible until the core image is being built: if the workflow waited
        // for every package first, this release would never finish.
        async waitUntilVisible(i) {
          if (i.package !== 'open-ticket-ai') await coreImage;
          return base.waitUntilVisible(i);
        },
        async publishImage(i) {
          if (i.variant === 'core') coreImageStarted();
          return base.publishImage(i);
        },
      }),
      { tag: 'v1.0.18' },
    );
    assert.ok(log.indexOf('image:core') < log.indexOf('visible:otai-hf-local'));
    assert.equal(summary.images.length, 4);
  });

  it('dry run builds but uploads and pushes nothing', async () => {
    const log: string[] = [];
    const summary = await run(fakeActivities(log), { tag: 'v1.0.18', dryRun: true });
    assert.ok(log.some((l) => l.startsWith('build:')));
    assert.ok(!log.some((l) => l.startsWith('publish:') || l.startsWith('image:')));
    assert.equal(summary.dryRun, true);
    assert.equal(summary.images.length, 0);
  });

  it('retries a flaky upload and completes', async () => {
    const log: string[] = [];
    let attempts = 0;
    const base = fakeActivities(log);
    const summary = await run(
      fakeActivities(log, {
        async publishPackage(i) {
          if (i.package === 'otai-hf-local' && ++attempts < 3) throw new Error('upload failed (HTTP 503)');
          return base.publishPackage(i);
        },
      }),
      { tag: 'v1.0.18' },
    );
    assert.equal(attempts, 3);
    assert.equal(summary.images.length, 4);
  });

  /** Starts a release on its own task queue with a worker running until `body` is done. */
  async function withRelease(activities: Activities, body: (handle: WorkflowHandle) => Promise<void>, on: TestWorkflowEnvironment = env): Promise<void> {
    const { taskQueue, workflowId } = unique();
    const worker = await Worker.create({ connection: on.nativeConnection, taskQueue, workflowBundle: bundle, activities });
    await worker.runUntil(async () => {
      const handle = await on.client.workflow.start('release', { taskQueue, workflowId, args: [{ config, tag: 'v1.0.18' }] });
      await body(handle);
    });
  }

  /** An update refused by its validator: the reason is the cause of WorkflowUpdateFailedError. */
  async function updateRejected(p: Promise<unknown>, reason: RegExp): Promise<void> {
    await assert.rejects(p, (err: unknown) => err instanceof WorkflowUpdateFailedError && reason.test(String(err.cause?.message)));
  }

  async function waitingSteps(handle: WorkflowHandle, expected: number): Promise<ReleaseStatus> {
    return eventually(
      `${expected} step(s) waiting for an operator`,
      () => handle.query(statusQuery),
      (status) => status.steps.filter((s) => s.state === 'waiting-for-operator').length >= expected,
      { timeoutMs: 30_000, intervalMs: 50, show: showSteps },
    );
  }

  const failing = (step: string, times: number, log: string[]) => {
    let left = times;
    const base = fakeActivities(log);
    return fakeActivities(log, {
      async buildPackage(i) {
        if (step === `build:${i.package}` && left-- > 0) throw ApplicationFailure.nonRetryable(`uv build of ${i.package} failed (exit 1)`, 'BuildFailed');
        return base.buildPackage(i);
      },
      async publishImage(i) {
        if (step === `image:${i.variant}` && left-- > 0) throw ApplicationFailure.nonRetryable('the registry refused the push', 'ImagePushRefused');
        return base.publishImage(i);
      },
    });
  };

  it('a failed build waits for an operator, uploads nothing, and abort ends the release with the reason', async () => {
    const log: string[] = [];
    await withRelease(failing('build:otai-otobo-znuny', 99, log), async (handle) => {
      const status = await waitingSteps(handle, 1);
      const build = status.steps.find((s) => s.step === 'build:otai-otobo-znuny')!;
      assert.equal(build.state, 'waiting-for-operator');
      assert.match(build.note ?? '', /uv build of otai-otobo-znuny failed/);
      assert.equal(status.state, 'waiting-for-operator');
      assert.ok(status.steps.filter((s) => s.step.startsWith('build:') && s.step !== build.step).every((s) => s.state === 'succeeded'));
      assert.ok(!log.some((l) => l.startsWith('publish:')), 'nothing uploaded while a build waits');
      await updateRejected(handle.executeUpdate(abortUpdate, { args: [' '] }), /abort needs a reason/);
      assert.match(await handle.executeUpdate(abortUpdate, { args: ['broken build, will tag 1.0.19'] }), /aborting/);
      await assert.rejects(
        handle.result(),
        (err: unknown) => err instanceof WorkflowFailedError && /aborted by an operator: broken build, will tag 1\.0\.19/.test(String(err.cause?.message)),
      );
      const final = await handle.query(statusQuery);
      assert.equal(final.state, 'failed');
      assert.ok(!log.some((l) => l.startsWith('publish:')));
    });
  });

  it('retry re-runs a waiting step; other variants finish meanwhile', async () => {
    const log: string[] = [];
    await withRelease(failing('image:core', 1, log), async (handle) => {
      await waitingSteps(handle, 1);
      // Independent steps go on: every other image is pushed while image:core waits.
      const status = await eventually(
        'every other image step to succeed while image:core waits',
        () => handle.query(statusQuery),
        (s) =>
          ['hf_local', 'otobo_znuny', 'all'].every((v) => log.includes(`image:${v}`) && s.steps.find((x) => x.step === `image:${v}`)?.state === 'succeeded'),
        { timeoutMs: 30_000, intervalMs: 50, show: showSteps },
      );
      for (const v of ['hf_local', 'otobo_znuny', 'all']) assert.equal(status.steps.find((s) => s.step === `image:${v}`)?.state, 'succeeded');
      await updateRejected(handle.executeUpdate(retryUpdate, { args: ['image:all'] }), /image:all is succeeded, not waiting/);
      await updateRejected(handle.executeUpdate(retryUpdate, { args: ['image:nope'] }), /no step "image:nope"/);
      assert.match(await handle.executeUpdate(retryUpdate, { args: ['image:core'] }), /image:core: retry accepted/);
      const summary = (await handle.result()) as ReleaseSummary;
      assert.deepEqual(summary.images.map((i) => i.variant).sort(), ['all', 'core', 'hf_local', 'otobo_znuny']);
      const final = await handle.query(statusQuery);
      assert.equal(final.state, 'succeeded');
      assert.ok(final.steps.every((s) => s.state === 'succeeded'));
    });
  });

  it('skip lets the release finish without the step; validate can never be skipped', async () => {
    const log: string[] = [];
    await withRelease(failing('image:hf_local', 99, log), async (handle) => {
      await waitingSteps(handle, 1);
      await updateRejected(handle.executeUpdate(skipUpdate, { args: ['validate'] }), /step validate cannot be skipped/);
      await handle.executeUpdate(skipUpdate, { args: ['image:hf_local'] });
      const summary = (await handle.result()) as ReleaseSummary;
      assert.deepEqual(summary.images.map((i) => i.variant).sort(), ['all', 'core', 'otobo_znuny']);
      const final = await handle.query(statusQuery);
      assert.equal(final.steps.find((s) => s.step === 'image:hf_local')?.state, 'skipped');
      assert.equal(final.steps.find((s) => s.step === 'finish')?.state, 'succeeded');
    });
  });

  it('answers retryStep/skipStep signals from the UI the same way', async () => {
    const log: string[] = [];
    await withRelease(failing('image:all', 1, log), async (handle) => {
      await waitingSteps(handle, 1);
      await handle.signal(retrySignal, 'image:all');
      const summary = (await handle.result()) as ReleaseSummary;
      assert.equal(summary.images.length, 4);
    });
  });

  it('a publish step without a usable OIDC token waits for the oidcToken signal, then uses the fresh token', async () => {
    const log: string[] = [];
    const base = fakeActivities(log);
    const used: (string | undefined)[] = [];
    await withRelease(
      fakeActivities(log, {
        async publishPackage(i) {
          used.push(i.oidcToken);
          if (i.oidcToken !== 'fresh-token') throw ApplicationFailure.nonRetryable('no usable OIDC token for audience "pypi"', 'OidcTokenUnavailable');
          return base.publishPackage(i);
        },
      }),
      async (handle) => {
        const status = await waitingSteps(handle, 3);
        assert.ok(status.steps.filter((s) => s.step.startsWith('publish:')).every((s) => /waiting for a fresh OIDC token/.test(s.note ?? '')));
        await handle.signal(oidcTokenSignal, { token: 'fresh-token' });
        const summary = (await handle.result()) as ReleaseSummary;
        assert.equal(summary.packages.flatMap((p) => p.uploaded).length, 3);
        assert.ok(used.includes(undefined) && used.filter((t) => t === 'fresh-token').length === 3);
      },
    );
  });

  it('hands the step to an operator when no fresh token arrives within timeouts.token_wait', async () => {
    const log: string[] = [];
    await withRelease(
      fakeActivities(log, {
        async publishPackage() {
          throw ApplicationFailure.nonRetryable('OIDC token expired', 'OidcTokenExpired');
        },
      }),
      async (handle) => {
        await waitingSteps(handle, 3);
        // The time-skipping server fast-forwards past the 30-minute token wait.
        await timeEnv.sleep('31m');
        const status = await handle.query(statusQuery);
        const publish = status.steps.filter((s) => s.step.startsWith('publish:'));
        assert.ok(
          publish.every((s) => s.state === 'waiting-for-operator' && /waited 30m for a fresh OIDC token/.test(s.note ?? '')),
          JSON.stringify(publish),
        );
        await handle.executeUpdate(abortUpdate, { args: ['no token today'] });
        await assert.rejects(handle.result(), WorkflowFailedError);
      },
      timeEnv,
    );
  });

  describe('releases started since preflight (release-semantics-2)', () => {
    it('preflight runs after validate and before any build; a refused destination waits for an operator with nothing built', async () => {
      const log: string[] = [];
      let refusals = 1;
      const activities = fakeActivities(log, {
        async preflightRelease() {
          log.push('preflight');
          if (refusals-- > 0) throw ApplicationFailure.nonRetryable('registry push: 127.0.0.1:5000/acme/core refused push (401)', 'PreflightFailed');
          return { checks: [{ check: 'registry push', detail: 'push to 127.0.0.1:5000/acme/core allowed' }] };
        },
      });
      await withRelease(activities, async (handle) => {
        const status = await waitingSteps(handle, 1);
        assert.equal(status.steps[1]?.step, 'preflight');
        assert.match(status.steps[1]?.note ?? '', /refused push \(401\)/);
        assert.deepEqual(log, ['validate', 'preflight'], 'nothing is built while preflight waits');
        await handle.executeUpdate(retryUpdate, { args: ['preflight'] });
        await handle.result();
        assert.deepEqual(log.slice(0, 3), ['validate', 'preflight', 'preflight']);
        assert.ok(log.slice(3).every((l) => l !== 'preflight'));
        const final = await handle.query(statusQuery);
        assert.match(final.steps.find((s) => s.step === 'preflight')?.note ?? '', /registry push: push to 127\.0\.0\.1:5000\/acme\/core allowed/);
      });
    });

    it("CI's start-and-wait answers once validate and preflight passed, with the version, commit and checks", async () => {
      const log: string[] = [];
      await withRelease(fakeActivities(log), async (handle) => {
        const answer = await handle.executeUpdate(releaseUnderWayUpdate, { args: [{ tag: 'v1.0.18', pypiOidcToken: 'ci-token' }] });
        assert.deepEqual(answer, { tag: 'v1.0.18', version: '1.0.18', commit: 'c'.repeat(40), checks: ['registry push: push allowed'] });
        await updateRejected(handle.executeUpdate(releaseUnderWayUpdate, { args: [{ tag: 'v9.9.9' }] }), /releases v1\.0\.18, not v9\.9\.9/);
        await handle.result();
      });
    });

    it("CI's start-and-wait fails with the seed's message when the versions do not match, and the release fails", async () => {
      const log: string[] = [];
      const mismatch = "ERROR: Tag version (1.0.18) doesn't match package version (1.0.17)";
      const activities = fakeActivities(log, {
        validateRelease() {
          return Promise.reject(ApplicationFailure.nonRetryable(mismatch, 'VersionMismatch'));
        },
      });
      await withRelease(activities, async (handle) => {
        await assert.rejects(
          handle.executeUpdate(releaseUnderWayUpdate, { args: [{ tag: 'v1.0.18' }] }),
          (err: unknown) =>
            err instanceof WorkflowUpdateFailedError &&
            err.cause instanceof ApplicationFailure &&
            err.cause.type === 'VersionMismatch' &&
            err.cause.message.includes(mismatch),
        );
        await assert.rejects(handle.result(), WorkflowFailedError);
      });
    });

    it("CI's start-and-wait fails with PreflightFailed while preflight waits for an operator", async () => {
      const log: string[] = [];
      const activities = fakeActivities(log, {
        preflightRelease() {
          return Promise.reject(ApplicationFailure.nonRetryable('index upload: no trusted publisher for open-ticket-ai', 'PreflightFailed'));
        },
      });
      await withRelease(activities, async (handle) => {
        await assert.rejects(
          handle.executeUpdate(releaseUnderWayUpdate, { args: [{ tag: 'v1.0.18' }] }),
          (err: unknown) =>
            err instanceof WorkflowUpdateFailedError &&
            err.cause instanceof ApplicationFailure &&
            err.cause.type === 'PreflightFailed' &&
            /no trusted publisher/.test(err.cause.message),
        );
        assert.equal((await handle.query(statusQuery)).state, 'waiting-for-operator');
        await handle.executeUpdate(abortUpdate, { args: ['fix the publisher first'] });
        await assert.rejects(handle.result(), WorkflowFailedError);
      });
    });

    it('a step waiting for an operator longer than timeouts.operator_wait fails the release, naming the step', async () => {
      const log: string[] = [];
      await withRelease(
        failing('image:core', 99, log),
        async (handle) => {
          await waitingSteps(handle, 1);
          await eventually(
            'every other image step to succeed, so nothing runs when the wait runs out',
            () => handle.query(statusQuery),
            (st) => st.steps.filter((x) => x.step.startsWith('image:') && x.step !== 'image:core').every((x) => x.state === 'succeeded'),
            { timeoutMs: 30_000, intervalMs: 50, show: showSteps },
          );
          // The time-skipping server fast-forwards through the 7-day default while the result is awaited.
          await assert.rejects(
            handle.result(),
            (err: unknown) =>
              err instanceof WorkflowFailedError &&
              err.cause instanceof ApplicationFailure &&
              err.cause.type === 'OperatorWaitExpired' &&
              /image:core waited 7d \(timeouts\.operator_wait\)/.test(err.cause.message),
          );
          const final = await handle.query(statusQuery);
          assert.equal(final.steps.find((s) => s.step === 'image:core')?.state, 'failed');
        },
        timeEnv,
      );
    });

    // On the real dev server: the time-skipping test server records an activity's cancellation
    // without the started event the real server writes, which the SDK refuses.
    it('an abort waits until the running step acknowledged its cancellation before the release ends', async () => {
      const local = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: tools.temporal() } } });
      try {
        const log: string[] = [];
        let imageStarted!: () => void;
        const started = new Promise<void>((r) => (imageStarted = r));
        const base = fakeActivities(log);
        const activities = fakeActivities(log, {
          async publishImage(i) {
            if (i.variant !== 'core') return base.publishImage(i);
            const ctx = Context.current();
            imageStarted();
            const beat = setInterval(() => ctx.heartbeat(), 50);
            try {
              await ctx.cancelled;
            } catch (err) {
              // What a real step does on cancel: kill its children and clean up, which takes a while.
              await new Promise((r) => setTimeout(r, 1_000));
              log.push('image:core cleaned up');
              throw err;
            } finally {
              clearInterval(beat);
            }
            throw new Error('unreachable: cancelled never resolves');
          },
        });
        const { taskQueue, workflowId } = unique();
        const worker = await Worker.create({ connection: local.nativeConnection, taskQueue, workflowBundle: bundle, activities });
        await worker.runUntil(async () => {
          const handle = await local.client.workflow.start('release', { taskQueue, workflowId, args: [{ config, tag: 'v1.0.18' }] });
          await started;
          await handle.executeUpdate(abortUpdate, { args: ['wrong base image'] });
          await assert.rejects(handle.result(), WorkflowFailedError);
          assert.ok(log.includes('image:core cleaned up'), `the release ended before its running step stopped: ${log.join(', ')}`);
        });

        // The same while another step waits for an operator: that wait ends at once, and the
        // release still ends only after the running sibling stopped.
        log.length = 0;
        let siblingStarted!: () => void;
        const sibling = new Promise<void>((r) => (siblingStarted = r));
        const withWaiting = fakeActivities(log, {
          ...activities,
          async publishImage(i) {
            if (i.variant === 'all') throw ApplicationFailure.nonRetryable('the registry refused the push', 'ImagePushRefused');
            if (i.variant === 'core') siblingStarted();
            return activities.publishImage(i);
          },
        });
        const second = unique();
        const worker2 = await Worker.create({
          connection: local.nativeConnection,
          taskQueue: second.taskQueue,
          workflowBundle: bundle,
          activities: withWaiting,
        });
        await worker2.runUntil(async () => {
          const handle = await local.client.workflow.start('release', { ...second, args: [{ config, tag: 'v1.0.18' }] });
          await sibling;
          await eventually(
            'image:all waiting for an operator while image:core runs',
            () => handle.query(statusQuery),
            (st) => st.steps.some((x) => x.step === 'image:all' && x.state === 'waiting-for-operator'),
            { timeoutMs: 60_000, intervalMs: 50, show: showSteps },
          );
          await handle.executeUpdate(abortUpdate, { args: ['wrong base image'] });
          await assert.rejects(handle.result(), WorkflowFailedError);
          assert.ok(log.includes('image:core cleaned up'), `the release ended before its running sibling stopped: ${log.join(', ')}`);
        });
      } finally {
        await local.teardown();
      }
    });
  });
});
