// Records the histories test/unit/release.replay.test.ts replays: one per thing a release can go
// through that a workflow change could break (an operator's retry, skip or abort, a retry by the
// retry policy, a wait for an OIDC token, a dry run, a stopped release, the UI's signal buttons;
// since release-semantics-2 also CI's start-and-wait, a refused preflight, an operator wait running
// out and an abort a running step acknowledges), plus republishLatest and tagRef. Each is driven
// through the real messages on a real Temporal dev server, with fake activities (no uv, index or
// registry: the history only holds what the activities returned), and written where the replay
// test finds it.
//
// Record from the workflow code that running releases were started with, never from a change
// being made: check the commit out beside the working tree and point --workflows at it.
//
//   git worktree add --detach /tmp/rec <commit> && ln -s "$PWD/node_modules" /tmp/rec/node_modules
//   node --import tsx test/support/record-histories.ts --workflows /tmp/rec/workflows/index.ts --out test/fixtures --scenario <name>
//   git worktree remove --force /tmp/rec
//
// Two generations of scenarios, each recorded from its own code: the unprefixed ones from 49475b5
// (releases started before `release-semantics-2`: no preflight, no start-and-wait, an operator
// wait without bound), the `s2-` ones from a commit with that patch and 'republish-per-variant'.
// Re-recording one from the other generation's code loses what it guards; the replay test's marker
// check refuses it. So always name the scenarios: --scenario <name> (repeatable) records only
// those; the others keep their files and index entries.
// Payloads are plain JSON (no codec), so replaying needs no key; every token in them is a fake.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { heartbeat, sleep } from '@temporalio/activity';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { execa } from 'execa';
import { signalStartRelease, startRelease, startReleaseUnderWay, tagFromRef, type UnderWayAnswer } from '../../src/client/start';
import { parseConfig } from '../../src/config/load';
import type { TagshipConfig } from '../../src/config/schema';
import type { ReleaseActivities } from '../../src/contract/activities';
import { failure } from '../../src/contract/failures';
import { abortSignal, abortUpdate, oidcTokenSignal, retrySignal, retryUpdate, skipUpdate, statusQuery } from '../../src/contract/messages';
import type { ReleaseStatus, ReleaseSummary, RepublishLatestSummary } from '../../src/contract/release';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/contract/search-attributes';
import { releaseWorkflowId, republishWorkflowId, tagWorkflowId } from '../../src/contract/workflow-ids';
import { startTemporalDevServer } from '../../src/dev/stack/temporal';
import { eventually } from './eventually';

/** One recorded history as the replay test finds it in histories.json (keyed by file name). */
interface HistoryIndexEntry {
  readonly scenario: string;
  readonly workflowId: string;
  readonly workflowType: 'release' | 'republishLatest' | 'tagRef';
  /** What the history holds that no other fixture does; the replay test asserts it. */
  readonly proves: string;
  /** The commit of the workflow code it was recorded from ("+dirty" when that tree had changes). */
  readonly recordedFrom: string;
}

type HistoryIndex = Record<string, HistoryIndexEntry>;

const INDEX_FILE = 'histories.json';

// Not worker/run's workflowsPath: importing the worker would load every activity, which recording never runs.
const CURRENT_WORKFLOWS = join(import.meta.dirname, '..', '..', 'workflows', 'index.ts');

// The seed's config: three packages, four variants, trusted publishing, a GitHub Release. The
// worker-local parts (index and registry URLs) never reach these fakes.
const config: TagshipConfig = parseConfig('', 'recorded defaults');

/** What CI forwards with startRelease; a placeholder, never a real token. */
const CI_TOKEN = 'fake-oidc-token-from-ci';
const FRESH_TOKEN = 'fake-oidc-token-fresh';

function fakeActivities(overrides: Partial<ReleaseActivities> = {}): ReleaseActivities {
  return {
    async validateRelease({ tag, config: c }) {
      const version = tag.slice(1);
      return { version, commit: 'c'.repeat(40), packages: c.packages.map((p) => ({ name: p.name, version })) };
    },
    // Workflow code from before preflight never calls it; today's does.
    async preflightRelease(i) {
      return {
        checks: [
          { check: 'index upload', detail: `upload to ${i.config.index.upload_url} allowed` },
          { check: 'registry push', detail: `push to ${i.config.images.repository} allowed` },
        ],
      };
    },
    async buildPackage(i) {
      const base = i.package.replaceAll('-', '_');
      return {
        package: i.package,
        version: i.version,
        files: [
          { filename: `${base}-${i.version}.tar.gz`, kind: 'sdist', size: 1024, sha256: 'a'.repeat(64) },
          { filename: `${base}-${i.version}-py3-none-any.whl`, kind: 'wheel', size: 2048, sha256: 'b'.repeat(64) },
        ],
      };
    },
    async publishPackage(i) {
      // As the real step does under trusted publishing: no token from CI, nothing to exchange.
      if (i.config.index.auth === 'trusted-publishing' && !i.oidcToken) throw failure('OidcTokenUnavailable', 'no OIDC token from CI for audience "pypi"');
      return { package: i.package, uploaded: i.files.map((f) => f.filename), alreadyPresent: [] };
    },
    async waitUntilVisible(i) {
      return { package: i.package, polls: 1 };
    },
    async publishImage(i) {
      return {
        variant: i.variant,
        tags: [`${i.version}-${i.variant}`, `${i.variant}-latest`],
        digest: `sha256:${'d'.repeat(64)}`,
        platforms: ['linux/amd64', 'linux/arm64'],
        latest: { moved: true, reason: 'newest stable release' },
      };
    },
    async publishGitHubRelease(i) {
      return {
        id: 7,
        url: `https://github.com/${config.repository.owner}/${config.repository.name}/releases/tag/${i.tag}`,
        created: true,
        assetsUploaded: ['SHA256SUMS', 'images.txt'],
        assetsUnchanged: [],
      };
    },
    async retagLatest({ variant }) {
      const digest = `sha256:${'e'.repeat(64)}`;
      return {
        variant,
        outcome: 'moved',
        version: '1.0.18',
        digest,
        reason: 'newest stable release',
        tags: [{ tag: `${variant}-latest`, outcome: 'moved', version: '1.0.18', digest, reason: 'pointed at 1.0.17' }],
      };
    },
    async runningReleases() {
      return [];
    },
    async runningReleaseVersions() {
      return [];
    },
    async tagRelease(i) {
      return { tag: `v${i.version ?? '1.0.19'}`, version: i.version ?? '1.0.19', commit: i.expectedCommit ?? 'f'.repeat(40), created: true };
    },
    ...overrides,
  };
}

/** Throws `thrown()` on its first `times` calls, then never again: a failure that an attempt later heals. */
function failFirst(times: number, thrown: () => Error): () => void {
  let left = times;
  return () => {
    if (left-- > 0) throw thrown();
  };
}

interface Driver {
  readonly client: Client;
  readonly taskQueue: string;
}

interface Scenario {
  readonly name: string;
  readonly file: string;
  readonly workflowType: HistoryIndexEntry['workflowType'];
  readonly proves: string;
  readonly activities: () => { activities: ReleaseActivities; started?: Promise<void> };
  /** Drives the workflow to its end and returns its id; throws unless it ended as the scenario says. */
  readonly drive: (d: Driver, started: Promise<void> | undefined) => Promise<string>;
}

const showSteps = (s: ReleaseStatus) => `${s.state}: ${s.steps.map((x) => `${x.step}=${x.state}${x.note ? ` (${x.note})` : ''}`).join(', ')}`;

async function untilWaiting(handle: WorkflowHandle, steps: readonly string[], note?: RegExp): Promise<void> {
  await eventually(
    `${steps.join(', ')} waiting for an operator`,
    () => handle.query(statusQuery),
    (s) => steps.every((step) => s.steps.some((x) => x.step === step && x.state === 'waiting-for-operator' && (!note || note.test(x.note ?? '')))),
    // An image exhausting its five attempts backs off 2+4+8+16 s on a real server.
    { timeoutMs: 180_000, intervalMs: 200, show: showSteps },
  );
}

async function succeeded(handle: WorkflowHandle): Promise<ReleaseSummary> {
  return (await handle.result()) as ReleaseSummary;
}

async function abortedWith(handle: WorkflowHandle, reason: string): Promise<void> {
  await assert.rejects(
    handle.result(),
    (err: unknown) => err instanceof WorkflowFailedError && String(err.cause?.message).includes(`aborted by an operator: ${reason}`),
  );
}

const ciStart = (d: Driver, tag: string) => signalStartRelease(d.client, d, config, { tag, pypiOidcToken: CI_TOKEN });

/** CI's start-and-wait (`POST /api/releases`): update-with-start of startReleaseAndWait, as the server sends it. */
const ciStartAndWait = (d: Driver, tag: string, c: TagshipConfig = config) => startReleaseUnderWay(d.client, d, c, { tag, pypiOidcToken: CI_TOKEN });

function underWay(answer: UnderWayAnswer): void {
  assert.equal(answer.kind, 'under-way', `CI's start-and-wait answered ${JSON.stringify(answer)}`);
}

async function failedAs(handle: WorkflowHandle, type: string): Promise<void> {
  await assert.rejects(
    handle.result(),
    (err: unknown) => err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type === type,
  );
}

// Two seconds, so the recording sees the bound pass; the schema's least (real releases wait days).
const shortOperatorWait: TagshipConfig = parseConfig('[timeouts]\noperator_wait = "2s"\n', 'recorded: operator_wait 2s');

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'operator-retry',
    file: 'release-operator-retry.history.json',
    workflowType: 'release',
    proves:
      'a build failing non-retryably waits for an operator; the retry update is accepted and the same build activity id is scheduled again; the release completes',
    activities() {
      const fail = failFirst(1, () => failure('BuildFailed', 'uv build of otai-hf-local failed (exit 1)'));
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async buildPackage(i) {
            if (i.package === 'otai-hf-local') fail();
            return base.buildPackage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle } = await ciStart(d, 'v1.1.0');
      await untilWaiting(handle, ['build:otai-hf-local']);
      assert.match(await handle.executeUpdate(retryUpdate, { args: ['build:otai-hf-local'] }), /retry accepted/);
      assert.equal((await succeeded(handle)).packages.length, 3);
      return workflowId;
    },
  },
  {
    name: 'operator-skip',
    file: 'release-operator-skip.history.json',
    workflowType: 'release',
    proves:
      'an image failing retryably exhausts its attempts (retry state MAXIMUM_ATTEMPTS_REACHED) and waits; the skip update is accepted; the GitHub Release runs without that image and the release completes',
    activities() {
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async publishImage(i) {
            if (i.variant === 'hf_local') throw failure('ImageBuildFailed', 'buildah bud exited 125: registry timed out');
            return base.publishImage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle } = await ciStart(d, 'v1.2.0');
      await untilWaiting(handle, ['image:hf_local']);
      assert.match(await handle.executeUpdate(skipUpdate, { args: ['image:hf_local'] }), /skip accepted/);
      const summary = await succeeded(handle);
      assert.deepEqual(summary.images.map((i) => i.variant).sort(), ['all', 'core', 'otobo_znuny']);
      assert.ok(summary.githubRelease);
      return workflowId;
    },
  },
  {
    name: 'auto-retry',
    file: 'release-auto-retry.history.json',
    workflowType: 'release',
    proves: 'a publish failing retryably twice is retried by its retry policy (started at attempt 3, scheduled once) with no operator; the release completes',
    activities() {
      const fail = failFirst(2, () => failure('TrustedPublishingUnavailable', "PyPI's OIDC endpoints answered HTTP 503"));
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async publishPackage(i) {
            if (i.package === 'open-ticket-ai') fail();
            return base.publishPackage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle } = await ciStart(d, 'v1.3.0');
      assert.equal((await succeeded(handle)).images.length, 4);
      return workflowId;
    },
  },
  {
    name: 'abort-running',
    file: 'release-abort-running.history.json',
    workflowType: 'release',
    proves: 'the abort update while an image activity runs (heartbeating) requests its cancellation; the release fails with type Aborted',
    activities() {
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const base = fakeActivities();
      return {
        started: running,
        activities: fakeActivities({
          async publishImage(i) {
            if (i.variant !== 'core') return base.publishImage(i);
            started();
            // A long build: it ends only when the release cancels it (sleep rejects then).
            for (;;) {
              heartbeat();
              await sleep(500);
            }
          },
        }),
      };
    },
    async drive(d, started) {
      const { workflowId, handle } = await ciStart(d, 'v1.4.0');
      await started;
      await eventually(
        'image:core running',
        () => handle.query(statusQuery),
        (s) => s.steps.some((x) => x.step === 'image:core' && x.state === 'running'),
        { show: showSteps },
      );
      const reason = 'the core image hangs; 1.4.1 follows';
      assert.match(await handle.executeUpdate(abortUpdate, { args: [reason] }), /aborting/);
      await abortedWith(handle, reason);
      return workflowId;
    },
  },
  {
    name: 'abort-waiting',
    file: 'release-abort-waiting.history.json',
    workflowType: 'release',
    proves: 'the abort update while a build waits for an operator ends the wait; nothing is published; the release fails with type Aborted',
    activities() {
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async buildPackage(i) {
            if (i.package === 'otai-otobo-znuny') throw failure('BuildFailed', 'uv build of otai-otobo-znuny failed (exit 1)');
            return base.buildPackage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle } = await ciStart(d, 'v1.5.0');
      await untilWaiting(handle, ['build:otai-otobo-znuny']);
      const reason = 'broken build, will tag 1.5.1';
      assert.match(await handle.executeUpdate(abortUpdate, { args: [reason] }), /aborting/);
      await abortedWith(handle, reason);
      return workflowId;
    },
  },
  {
    name: 'abort-signal',
    file: 'release-abort-signal.history.json',
    workflowType: 'release',
    proves: "the abortRelease signal (the UI's button) while an image waits for an operator; the release fails with type Aborted",
    activities() {
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async publishImage(i) {
            if (i.variant === 'otobo_znuny') throw failure('ImagePushRefused', 'the registry refused the push (403)');
            return base.publishImage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle } = await ciStart(d, 'v1.5.2');
      await untilWaiting(handle, ['image:otobo_znuny']);
      const reason = 'registry permissions are wrong';
      await handle.signal(abortSignal, reason);
      await abortedWith(handle, reason);
      return workflowId;
    },
  },
  {
    name: 'token-wait',
    file: 'release-token-wait.history.json',
    workflowType: 'release',
    proves:
      'a trusted-publishing release started without a token (the webhook): every publish fails OidcTokenUnavailable and waits; the oidcToken signal re-schedules each publish, which completes',
    activities: () => ({ activities: fakeActivities() }),
    async drive(d) {
      const { workflowId, handle } = await startRelease(d.client, d, config, 'v1.6.0');
      const publishes = config.packages.map((p) => `publish:${p.name}`);
      await untilWaiting(handle, publishes, /waiting for a fresh OIDC token/);
      await handle.signal(oidcTokenSignal, { token: FRESH_TOKEN });
      assert.equal((await succeeded(handle)).packages.flatMap((p) => p.uploaded).length, 6);
      return workflowId;
    },
  },
  {
    name: 'dry-run',
    file: 'release-dry-run.history.json',
    workflowType: 'release',
    proves: 'a dry run validates and builds, then finishes: no publish, visible, image or GitHub Release activity',
    activities: () => ({ activities: fakeActivities() }),
    async drive(d) {
      const { workflowId, handle } = await startRelease(d.client, d, config, 'v1.7.0', { dryRun: true });
      const summary = await succeeded(handle);
      assert.equal(summary.dryRun, true);
      assert.equal(summary.images.length, 0);
      return workflowId;
    },
  },
  {
    name: 'validate-stops',
    file: 'release-validate-stops.history.json',
    workflowType: 'release',
    proves: 'validate failing with VersionMismatch (a release stopper) fails the release at once: no operator wait, no build',
    activities: () => ({
      activities: fakeActivities({
        validateRelease() {
          return Promise.reject(failure('VersionMismatch', "ERROR: Tag version (1.8.0) doesn't match package version (1.7.3)\n  package otai-hf-local"));
        },
      }),
    }),
    async drive(d) {
      const { workflowId, handle } = await startRelease(d.client, d, config, 'v1.8.0');
      await assert.rejects(handle.result(), WorkflowFailedError);
      return workflowId;
    },
  },
  {
    name: 'signal-operator',
    file: 'release-signal-operator.history.json',
    workflowType: 'release',
    proves: "an image failing non-retryably waits; the retryStep signal (the UI's button) re-schedules the same activity id; the release completes",
    activities() {
      const fail = failFirst(1, () => failure('ImagePushRefused', 'the registry refused the push (denied)'));
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async publishImage(i) {
            if (i.variant === 'all') fail();
            return base.publishImage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle } = await ciStart(d, 'v1.9.0');
      await untilWaiting(handle, ['image:all']);
      await handle.signal(retrySignal, 'image:all');
      assert.equal((await succeeded(handle)).images.length, 4);
      return workflowId;
    },
  },
  {
    name: 'republish-latest',
    file: 'republish-latest.history.json',
    workflowType: 'republishLatest',
    proves: 'the scheduled re-point of moving tags: no stable release running, one retagLatest per variant',
    activities: () => ({ activities: fakeActivities() }),
    async drive(d) {
      const workflowId = republishWorkflowId(config);
      const summary = (await d.client.workflow.execute('republishLatest', {
        taskQueue: d.taskQueue,
        workflowId,
        args: [{ config }],
      })) as RepublishLatestSummary;
      assert.equal(summary.variants.length, config.variants.length);
      return workflowId;
    },
  },
  {
    name: 'tag-ref',
    file: 'tag-ref.history.json',
    workflowType: 'tagRef',
    proves: 'tagging a branch at the commit CI ran on: one tagRelease activity with activity id "tag"',
    activities: () => ({ activities: fakeActivities() }),
    async drive(d) {
      const expectedCommit = '9'.repeat(40);
      const tagged = await tagFromRef(d.client, d, config, 'main', { version: '1.10.0', expectedCommit });
      assert.equal(tagged.tag, 'v1.10.0');
      return tagWorkflowId(config, 'main', '1.10.0', expectedCommit);
    },
  },
  // ---- release-semantics-2 (record from a commit with the patch) ----
  {
    name: 's2-happy',
    file: 'release-s2-happy.history.json',
    workflowType: 'release',
    proves:
      "CI's start-and-wait (update-with-start of startReleaseAndWait) answered once validate and preflight passed; every step scheduled once with a heartbeat timeout; the release completes",
    activities: () => ({ activities: fakeActivities() }),
    async drive(d) {
      const { workflowId, handle, answer } = await ciStartAndWait(d, 'v2.0.0');
      underWay(answer);
      assert.equal(answer.kind === 'under-way' && answer.underWay.checks.length, 2);
      const summary = await succeeded(handle);
      assert.equal(summary.images.length, 4);
      assert.ok(summary.githubRelease);
      return workflowId;
    },
  },
  {
    name: 's2-preflight-retry',
    file: 'release-s2-preflight-retry.history.json',
    workflowType: 'release',
    proves:
      "preflight fails PreflightFailed: CI's start-and-wait is refused with it and preflight waits for an operator; the retry update schedules activity id 'preflight' again, which passes; only then does anything build; the release completes",
    activities() {
      const fail = failFirst(1, () => failure('PreflightFailed', 'registry push: ghcr.io/softoft-orga/open-ticket-ai refused the upload (403 denied)'));
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async preflightRelease(i) {
            fail();
            return base.preflightRelease(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle, answer } = await ciStartAndWait(d, 'v2.1.0');
      assert.equal(answer.kind === 'stopped' && answer.type, 'PreflightFailed', `CI's start-and-wait answered ${JSON.stringify(answer)}`);
      await untilWaiting(handle, ['preflight']);
      assert.match(await handle.executeUpdate(retryUpdate, { args: ['preflight'] }), /retry accepted/);
      assert.equal((await succeeded(handle)).images.length, 4);
      return workflowId;
    },
  },
  {
    name: 's2-operator-wait-expired',
    file: 'release-s2-operator-wait-expired.history.json',
    workflowType: 'release',
    proves:
      'with timeouts.operator_wait = "2s", a build failing non-retryably waits on a 2 s timer; nobody answers, the timer fires and the release fails OperatorWaitExpired with nothing published',
    activities() {
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async buildPackage(i) {
            if (i.package === 'otai-otobo-znuny') throw failure('BuildFailed', 'uv build of otai-otobo-znuny failed (exit 1)');
            return base.buildPackage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle, answer } = await ciStartAndWait(d, 'v2.2.0', shortOperatorWait);
      underWay(answer);
      await failedAs(handle, 'OperatorWaitExpired');
      return workflowId;
    },
  },
  {
    name: 's2-abort-running',
    file: 'release-s2-abort-running.history.json',
    workflowType: 'release',
    proves:
      'the abort update while an image activity runs (heartbeating) requests its cancellation and waits: the activity cleans up and acknowledges (ActivityTaskCanceled), then the release fails with type Aborted',
    activities() {
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const base = fakeActivities();
      return {
        started: running,
        activities: fakeActivities({
          async publishImage(i) {
            if (i.variant !== 'core') return base.publishImage(i);
            started();
            try {
              // A long build: it ends only when the release cancels it (sleep rejects then).
              for (;;) {
                heartbeat();
                await sleep(500);
              }
            } catch (err) {
              // As the real step does: its builder is stopped and the partial push dropped before it
              // acknowledges, which the release (WAIT_CANCELLATION_COMPLETED) waits for.
              await delay(300);
              throw err;
            }
          },
        }),
      };
    },
    async drive(d, started) {
      const { workflowId, handle, answer } = await ciStartAndWait(d, 'v2.3.0');
      underWay(answer);
      await started;
      await eventually(
        'image:core running',
        () => handle.query(statusQuery),
        (s) => s.steps.some((x) => x.step === 'image:core' && x.state === 'running'),
        { show: showSteps },
      );
      const reason = 'the core image hangs; 2.3.1 follows';
      assert.match(await handle.executeUpdate(abortUpdate, { args: [reason] }), /aborting/);
      await abortedWith(handle, reason);
      return workflowId;
    },
  },
  {
    name: 's2-operator-retry',
    file: 'release-s2-operator-retry.history.json',
    workflowType: 'release',
    proves:
      'started by signal-with-start: a build failing non-retryably waits on the operator_wait timer; the retry update cancels it and the same build activity id is scheduled again; the release completes',
    activities() {
      const fail = failFirst(1, () => failure('BuildFailed', 'uv build of otai-hf-local failed (exit 1)'));
      const base = fakeActivities();
      return {
        activities: fakeActivities({
          async buildPackage(i) {
            if (i.package === 'otai-hf-local') fail();
            return base.buildPackage(i);
          },
        }),
      };
    },
    async drive(d) {
      const { workflowId, handle } = await ciStart(d, 'v2.4.0');
      await untilWaiting(handle, ['build:otai-hf-local']);
      assert.match(await handle.executeUpdate(retryUpdate, { args: ['build:otai-hf-local'] }), /retry accepted/);
      assert.equal((await succeeded(handle)).packages.length, 3);
      return workflowId;
    },
  },
  {
    name: 's2-token-wait',
    file: 'release-s2-token-wait.history.json',
    workflowType: 'release',
    proves:
      'started without a token (the webhook): preflight runs without one; every publish fails OidcTokenUnavailable and waits; the oidcToken signal re-schedules each publish, which completes',
    activities: () => ({ activities: fakeActivities() }),
    async drive(d) {
      const { workflowId, handle } = await startRelease(d.client, d, config, 'v2.5.0');
      const publishes = config.packages.map((p) => `publish:${p.name}`);
      await untilWaiting(handle, publishes, /waiting for a fresh OIDC token/);
      await handle.signal(oidcTokenSignal, { token: FRESH_TOKEN });
      assert.equal((await succeeded(handle)).packages.flatMap((p) => p.uploaded).length, 6);
      return workflowId;
    },
  },
  {
    name: 's2-dry-run',
    file: 'release-s2-dry-run.history.json',
    workflowType: 'release',
    proves:
      'a dry run under release-semantics-2 validates and builds, then finishes: no preflight (it uploads nothing to check), publish, image or GitHub Release',
    activities: () => ({ activities: fakeActivities() }),
    async drive(d) {
      const { workflowId, handle } = await startRelease(d.client, d, config, 'v2.6.0', { dryRun: true });
      const summary = await succeeded(handle);
      assert.equal(summary.dryRun, true);
      assert.equal(summary.images.length, 0);
      return workflowId;
    },
  },
  {
    name: 's2-republish-per-variant',
    file: 'republish-s2-per-variant.history.json',
    workflowType: 'republishLatest',
    proves:
      'republish-per-variant: runningReleases names a stable release still waiting on image:core; the other three variants are re-tagged, core is not, and the summary names the release that skipped it',
    activities: () => ({
      activities: fakeActivities({
        runningReleases() {
          return Promise.resolve([
            {
              version: '2.7.0',
              workflowId: releaseWorkflowId(config, '2.7.0'),
              state: 'waiting-for-operator',
              pendingImages: [{ variant: 'core', state: 'waiting-for-operator' }],
            },
          ]);
        },
      }),
    }),
    async drive(d) {
      const workflowId = republishWorkflowId(config);
      const summary = (await d.client.workflow.execute('republishLatest', {
        taskQueue: d.taskQueue,
        workflowId,
        args: [{ config }],
      })) as RepublishLatestSummary;
      assert.deepEqual(summary.variants.map((v) => v.variant).sort(), ['all', 'hf_local', 'otobo_znuny']);
      assert.deepEqual(
        summary.skippedVariants?.map((s) => [s.variant, s.release]),
        [['core', 'v2.7.0']],
      );
      return workflowId;
    },
  },
];

/** The commit the workflow code at `path` comes from, and whether its tree differs from it. */
async function commitOf(path: string): Promise<string> {
  const cwd = dirname(path);
  const head = (await execa('git', ['-C', cwd, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  const dirty = (await execa('git', ['-C', cwd, 'status', '--porcelain', '--', '.'])).stdout.trim() !== '';
  return dirty ? `${head}+dirty` : head;
}

async function readIndex(file: string): Promise<HistoryIndex> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as HistoryIndex;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

async function record(scenario: Scenario, bundle: WorkflowBundleWithSourceMap, nativeConnection: NativeConnection, client: Client): Promise<string> {
  const taskQueue = `record-${scenario.name}`;
  const { activities, started } = scenario.activities();
  // Cancellation reaches an activity in a heartbeat's answer: sent every second, an abort is
  // acknowledged in seconds, not after the image step's 2 m heartbeat timeout's 80 %.
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: bundle, activities, maxHeartbeatThrottleInterval: '1s' });
  return worker.runUntil(scenario.drive({ client, taskQueue }, started));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workflows: { type: 'string', default: CURRENT_WORKFLOWS },
      out: { type: 'string', default: join(import.meta.dirname, '..', 'fixtures') },
      scenario: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const workflowsPath = resolve(values.workflows);
  const out = resolve(values.out);
  // No default of "all": one checkout is the right code for one generation only (see the top).
  const wanted = values.scenario ?? [];
  if (wanted.length === 0) throw new Error(`name the scenarios to record (--scenario, repeatable); known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const unknown = wanted.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);

  // The SDK's state changes would bury the one line per history this prints.
  const logger = new DefaultLogger('WARN');
  Runtime.install({ logger });
  const recordedFrom = await commitOf(workflowsPath);
  const bundle = await bundleWorkflowCode({ workflowsPath, logger });
  const server = await startTemporalDevServer({ headless: true, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  try {
    const indexFile = join(out, INDEX_FILE);
    const index = await readIndex(indexFile);
    for (const scenario of SCENARIOS.filter((s) => wanted.includes(s.name))) {
      const workflowId = await record(scenario, bundle, nativeConnection, client);
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const json = JSON.stringify(JSON.parse(historyToJSON(history)), null, 2);
      await writeFile(join(out, scenario.file), `${json}\n`);
      index[scenario.file] = { scenario: scenario.name, workflowId, workflowType: scenario.workflowType, proves: scenario.proves, recordedFrom };
      console.log(`${scenario.file}: ${history.events?.length ?? 0} events (${workflowId}, from ${recordedFrom})`);
    }
    const sorted = Object.fromEntries(Object.entries(index).sort(([a], [b]) => a.localeCompare(b)));
    await writeFile(indexFile, `${JSON.stringify(sorted, null, 2)}\n`);
  } finally {
    await connection.close();
    await nativeConnection.close();
    await server.stop();
  }
}

try {
  await main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
