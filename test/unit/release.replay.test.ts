// Guards workflow determinism across code changes: every history in test/fixtures/histories.json
// (a real release recorded by the end-to-end test, and the operator, retry, abort, token, dry-run
// and stop paths recorded by test/support/record-histories.ts from the code running releases were
// started with) must replay against today's workflow code. Each fixture is also checked for what it
// is there to prove, so none can silently be re-recorded as a happy path. Two generations: releases
// started before `release-semantics-2` (no patch marker) and since (the `s2-` fixtures, with it);
// both kinds may be running when a new worker deploys, so both must replay.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
// @temporalio/proto is CommonJS without statically detectable named exports: import the whole module.
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { z } from 'zod';

type Event = temporal.api.history.v1.IHistoryEvent;
const E = proto.temporal.api.enums.v1.EventType;
const RetryState = proto.temporal.api.enums.v1.RetryState;

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
// Not worker/run's workflowsPath: that module loads every activity, and replay runs none.
const WORKFLOWS = join(import.meta.dirname, '..', '..', 'workflows', 'index.ts');

const indexSchema = z.record(
  z.string().regex(/^[a-z0-9.-]+\.history\.json$/),
  z
    .object({
      scenario: z.string().min(1),
      workflowId: z.string().min(1),
      workflowType: z.enum(['release', 'republishLatest', 'tagRef']),
      proves: z.string().min(1),
      recordedFrom: z.string().min(1),
    })
    .strict(),
);
const index = indexSchema.parse(JSON.parse(await readFile(join(FIXTURES, 'histories.json'), 'utf8')));

// ---- reading a history ------------------------------------------------------------------------

const num = (n: number | { toNumber(): number } | null | undefined): number => (typeof n === 'number' ? n : (n?.toNumber() ?? 0));

function json(payloads: temporal.api.common.v1.IPayloads | null | undefined, i = 0): unknown {
  const data = payloads?.payloads?.[i]?.data;
  assert.ok(data, `payload ${i} present`);
  return JSON.parse(Buffer.from(data).toString('utf8'));
}

interface Activity {
  readonly eventId: number;
  readonly id: string;
  readonly type: string;
  readonly input: unknown;
  readonly started?: temporal.api.history.v1.IActivityTaskStartedEventAttributes;
  readonly outcome?: 'completed' | 'failed' | 'timed-out' | 'canceled';
  readonly failure?: temporal.api.failure.v1.IFailure;
  readonly retryState?: temporal.api.enums.v1.RetryState;
  /** The event that closed it (completed, failed, timed out, canceled). */
  readonly endEventId?: number;
  /** Its result, when it completed. */
  readonly result?: unknown;
  /** The ActivityTaskCancelRequested event, when the workflow asked to cancel it. */
  readonly cancelRequestedAt?: number;
}

interface Update {
  readonly name: string;
  readonly arg: unknown;
  /** The WorkflowExecutionUpdateAccepted event. */
  readonly eventId: number;
  /** The WorkflowExecutionUpdateCompleted event. */
  readonly completedEventId: number;
  /** Its result when it succeeded; undefined when it failed. */
  readonly result?: unknown;
  /** The failure's type when it failed. */
  readonly failureType?: string;
  readonly ok: boolean;
}

interface Timer {
  readonly startedEventId: number;
  readonly seconds: number;
  readonly outcome?: 'fired' | 'canceled';
  readonly endEventId?: number;
}

/** What a history tells about one workflow run: its activities, messages and how it ended. */
class Run {
  readonly activities: Activity[] = [];

  constructor(readonly events: readonly Event[]) {
    const bySchedule = new Map<number, Activity>();
    const update = (scheduledEventId: number, change: Partial<Activity>) => {
      const a = bySchedule.get(scheduledEventId);
      assert.ok(a, `activity event refers to schedule ${scheduledEventId}`);
      Object.assign(a, change);
    };
    for (const e of events) {
      const id = num(e.eventId);
      if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
        const a = e.activityTaskScheduledEventAttributes!;
        const activity: Activity = { eventId: id, id: a.activityId!, type: a.activityType!.name!, input: json(a.input) };
        this.activities.push(activity);
        bySchedule.set(id, activity);
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        update(num(e.activityTaskStartedEventAttributes!.scheduledEventId), { started: e.activityTaskStartedEventAttributes! });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
        const a = e.activityTaskCompletedEventAttributes!;
        update(num(a.scheduledEventId), { outcome: 'completed', endEventId: id, result: json(a.result) });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_FAILED) {
        const a = e.activityTaskFailedEventAttributes!;
        update(num(a.scheduledEventId), { outcome: 'failed', failure: a.failure!, retryState: a.retryState!, endEventId: id });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT) {
        update(num(e.activityTaskTimedOutEventAttributes!.scheduledEventId), { outcome: 'timed-out', endEventId: id });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_CANCELED) {
        update(num(e.activityTaskCanceledEventAttributes!.scheduledEventId), { outcome: 'canceled', endEventId: id });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED) {
        update(num(e.activityTaskCancelRequestedEventAttributes!.scheduledEventId), { cancelRequestedAt: id });
      }
    }
  }

  /** Every schedule of the activity with this id (a step is re-scheduled under the same id). */
  step(id: string): Activity[] {
    return this.activities.filter((a) => a.id === id);
  }

  ofType(type: string): Activity[] {
    return this.activities.filter((a) => a.type === type);
  }

  /** Accepted updates, each with how it completed (every accepted update must have). */
  updateOutcomes(): Update[] {
    const accepted = this.events.filter((e) => e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
    return accepted.map((e) => {
      const input = e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!;
      const done = this.events.find(
        (c) =>
          c.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED &&
          num(c.workflowExecutionUpdateCompletedEventAttributes!.acceptedEventId) === num(e.eventId),
      );
      const outcome = done?.workflowExecutionUpdateCompletedEventAttributes?.outcome;
      assert.ok(outcome, `update ${input.name} completed`);
      const common = { name: input.name!, arg: json(input.args), eventId: num(e.eventId), completedEventId: num(done?.eventId) };
      if (outcome.success) return { ...common, ok: true, result: json(outcome.success) };
      return { ...common, ok: false, failureType: outcome.failure?.applicationFailureInfo?.type ?? undefined };
    });
  }

  /** Accepted updates: name, argument and the events that accepted and completed them; each must have completed successfully. */
  updates(): Update[] {
    const all = this.updateOutcomes();
    for (const u of all) assert.ok(u.ok, `update ${u.name} completed successfully`);
    return all;
  }

  /** Workflow timers (sleep, or condition with a timeout), in the order they started. */
  timers(): Timer[] {
    const byId = new Map<string, Timer>();
    for (const e of this.events) {
      if (e.eventType === E.EVENT_TYPE_TIMER_STARTED) {
        const a = e.timerStartedEventAttributes!;
        byId.set(a.timerId!, { startedEventId: num(e.eventId), seconds: num(a.startToFireTimeout?.seconds) });
      } else if (e.eventType === E.EVENT_TYPE_TIMER_FIRED || e.eventType === E.EVENT_TYPE_TIMER_CANCELED) {
        const timerId = (e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes)!.timerId!;
        const t = byId.get(timerId);
        assert.ok(t, `timer ${timerId} started before it ended`);
        byId.set(timerId, { ...t, outcome: e.eventType === E.EVENT_TYPE_TIMER_FIRED ? 'fired' : 'canceled', endEventId: num(e.eventId) });
      }
    }
    return [...byId.values()];
  }

  /** The patch ids of the run's patched() markers: the code paths it was started on. */
  patches(): string[] {
    return this.events
      .filter((e) => e.eventType === E.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes?.markerName === 'core_patch')
      .map((e) => (json(e.markerRecordedEventAttributes!.details!['patch-data']) as { id: string }).id);
  }

  /** The workflow's first argument, as it was started. */
  get input(): unknown {
    return json(this.events[0]?.workflowExecutionStartedEventAttributes?.input);
  }

  /** What the workflow returned; the run must have completed. */
  get result(): unknown {
    this.completed();
    return json(this.last.workflowExecutionCompletedEventAttributes!.result);
  }

  signals(): { name: string; arg: unknown; eventId: number }[] {
    return this.events
      .filter((e) => e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
      .map((e) => ({
        name: e.workflowExecutionSignaledEventAttributes!.signalName!,
        arg: json(e.workflowExecutionSignaledEventAttributes!.input),
        eventId: num(e.eventId),
      }));
  }

  get last(): Event {
    const last = this.events.at(-1);
    assert.ok(last, 'history has events');
    return last;
  }

  completed(): void {
    assert.equal(this.last.eventType, E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, `ends completed, not ${E[this.last.eventType ?? 0]}`);
  }

  /** The run failed; returns the failure types down its cause chain (workflow's own first). */
  failedWith(): string[] {
    assert.equal(this.last.eventType, E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, `ends failed, not ${E[this.last.eventType ?? 0]}`);
    const types: string[] = [];
    for (let f = this.last.workflowExecutionFailedEventAttributes!.failure; f; f = f.cause) {
      if (f.applicationFailureInfo?.type) types.push(f.applicationFailureInfo.type);
    }
    return types;
  }
}

const failureType = (a: Activity | undefined) => a?.failure?.applicationFailureInfo?.type;

/** One step failed (not retryably, or out of attempts), waited, and was scheduled again after `after` under the same id, then completed. */
function retriedAfter(run: Run, step: string, failedAs: string, after: number): void {
  const schedules = run.step(step);
  assert.equal(schedules.length, 2, `${step} is scheduled twice`);
  const [first, second] = schedules as [Activity, Activity];
  assert.equal(first.outcome, 'failed');
  assert.equal(failureType(first), failedAs);
  assert.equal(first.retryState, RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
  assert.ok(second.eventId > after, `${step} is scheduled again after the operator's message`);
  assert.equal(second.outcome, 'completed');
}

/** Started without a token: every publish failed OidcTokenUnavailable, waited, and ran again with the token the oidcToken signal brought. */
function tokenWaited(run: Run): void {
  const signals = run.signals();
  assert.deepEqual(
    signals.map((s) => s.name),
    ['oidcToken'],
    'started without a token (no startRelease), then the token signal',
  );
  const token = signals[0]!;
  const packages = ['open-ticket-ai', 'otai-hf-local', 'otai-otobo-znuny'];
  for (const p of packages) {
    const [first, second, ...more] = run.step(`publish:${p}`);
    assert.deepEqual(more, []);
    assert.equal((first?.input as { oidcToken?: string }).oidcToken, undefined);
    assert.equal(failureType(first), 'OidcTokenUnavailable');
    assert.ok(second && second.eventId > token.eventId, `publish:${p} runs again after the token arrives`);
    assert.equal((second.input as { oidcToken?: string }).oidcToken, (token.arg as { token: string }).token);
    assert.equal(second.outcome, 'completed');
  }
  run.completed();
}

/** A dry run: validate (told it is one) and the builds, nothing else; preflight neither, since it uploads nothing. */
function dryRunOnly(run: Run): void {
  const [validate] = run.ofType('validateRelease');
  assert.equal((validate?.input as { dryRun?: boolean }).dryRun, true);
  assert.deepEqual([...new Set(run.activities.map((a) => a.type))].sort(), ['buildPackage', 'validateRelease']);
  run.completed();
}

/** CI's start-and-wait: startReleaseAndWait accepted in the run's first workflow task (update-with-start), with CI's token. */
function startedAndWaited(run: Run): Update {
  const [start] = run.updateOutcomes();
  assert.equal(start?.name, 'startReleaseAndWait');
  assert.ok(start.eventId < run.activities[0]!.eventId, 'the update came with the start, before validate');
  assert.equal(typeof (start.arg as { pypiOidcToken?: string }).pypiOidcToken, 'string', "CI's token rides on the update");
  return start;
}

/** The one timer a step's operator wait started after the step failed: release-semantics-2 bounds the wait. */
function operatorWaitTimer(run: Run, failed: Activity): Timer {
  const [timer, ...more] = run.timers().filter((t) => t.startedEventId > failed.endEventId!);
  assert.ok(timer, `an operator_wait timer after ${failed.id} failed`);
  assert.deepEqual(more, []);
  return timer;
}

const PREFLIGHT_FIRST = ['validate', 'preflight'];

// ---- what each fixture is there to prove ------------------------------------------------------

const PROOFS: Record<string, (run: Run) => void> = {
  'happy-path'(run) {
    run.completed();
    assert.equal(run.activities.length, 14, 'validate, 3 builds, 3 publishes, 3 visibles, 4 images');
    assert.ok(run.activities.every((a) => a.outcome === 'completed' && num(a.started?.attempt) === 1));
    assert.equal(new Set(run.activities.map((a) => a.id)).size, 14, 'no step scheduled twice');
  },

  'operator-retry'(run) {
    const [retry, ...more] = run.updates();
    assert.deepEqual(more, []);
    assert.deepEqual([retry?.name, retry?.arg], ['retry', 'build:otai-hf-local']);
    retriedAfter(run, 'build:otai-hf-local', 'BuildFailed', retry!.eventId);
    const firstPublish = Math.min(...run.ofType('publishPackage').map((a) => a.eventId));
    assert.ok(run.step('build:otai-hf-local')[1]!.eventId < firstPublish, 'nothing is published while a build waits');
    run.completed();
  },

  'operator-skip'(run) {
    const [skip, ...more] = run.updates();
    assert.deepEqual(more, []);
    assert.deepEqual([skip?.name, skip?.arg], ['skip', 'image:hf_local']);
    const [image, ...again] = run.step('image:hf_local');
    assert.deepEqual(again, [], 'a skipped step is not scheduled again');
    assert.equal(failureType(image), 'ImageBuildFailed');
    assert.equal(image?.retryState, RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(num(image?.started?.attempt), 5, 'the image used its five attempts before it waited');
    const [github] = run.step('github-release');
    assert.ok(github && github.eventId > skip!.eventId && github.outcome === 'completed', 'the GitHub Release runs after the skip');
    const images = (github.input as { images: { variant: string }[] }).images.map((i) => i.variant).sort();
    assert.deepEqual(images, ['all', 'core', 'otobo_znuny']);
    run.completed();
  },

  'auto-retry'(run) {
    assert.deepEqual(run.updates(), []);
    assert.deepEqual(
      run.signals().map((s) => s.name),
      ['startRelease'],
    );
    const [publish, ...again] = run.step('publish:open-ticket-ai');
    assert.deepEqual(again, [], 'retried by the retry policy, not re-scheduled');
    assert.equal(num(publish?.started?.attempt), 3);
    assert.equal(publish?.started?.lastFailure?.applicationFailureInfo?.type, 'TrustedPublishingUnavailable');
    assert.equal(publish?.outcome, 'completed');
    run.completed();
  },

  'abort-running'(run) {
    const [abort, ...more] = run.updates();
    assert.deepEqual(more, []);
    assert.equal(abort?.name, 'abort');
    const [image] = run.step('image:core');
    assert.ok(image && image.eventId < abort.eventId, 'image:core was scheduled before the abort');
    assert.ok(image.cancelRequestedAt !== undefined, 'the abort cancels the running image');
    assert.notEqual(image.outcome, 'completed');
    assert.deepEqual(run.step('github-release'), []);
    assert.equal(run.failedWith()[0], 'Aborted');
  },

  'abort-waiting'(run) {
    const [abort, ...more] = run.updates();
    assert.deepEqual(more, []);
    assert.equal(abort?.name, 'abort');
    const [build, ...again] = run.step('build:otai-otobo-znuny');
    assert.deepEqual(again, []);
    assert.equal(failureType(build), 'BuildFailed');
    assert.deepEqual(run.ofType('publishPackage'), [], 'nothing published');
    assert.equal(run.failedWith()[0], 'Aborted');
  },

  'abort-signal'(run) {
    assert.deepEqual(run.updates(), []);
    const abort = run.signals().find((s) => s.name === 'abortRelease');
    assert.ok(abort, 'the abortRelease signal');
    const [image] = run.step('image:otobo_znuny');
    assert.equal(failureType(image), 'ImagePushRefused');
    assert.ok(image!.eventId < abort.eventId);
    assert.deepEqual(run.step('github-release'), []);
    assert.equal(run.failedWith()[0], 'Aborted');
  },

  'token-wait': tokenWaited,

  'dry-run': dryRunOnly,

  'validate-stops'(run) {
    assert.deepEqual(
      run.activities.map((a) => a.id),
      ['validate'],
      'no build after a failed validate',
    );
    assert.equal(failureType(run.activities[0]), 'VersionMismatch');
    assert.deepEqual(run.updates(), []);
    assert.ok(run.failedWith().includes('VersionMismatch'));
  },

  'signal-operator'(run) {
    assert.deepEqual(run.updates(), []);
    const retry = run.signals().find((s) => s.name === 'retryStep');
    assert.equal(retry?.arg, 'image:all');
    retriedAfter(run, 'image:all', 'ImagePushRefused', retry.eventId);
    run.completed();
  },

  'republish-latest'(run) {
    assert.deepEqual(
      run.activities.map((a) => a.type),
      ['runningReleaseVersions', 'retagLatest', 'retagLatest', 'retagLatest', 'retagLatest'],
    );
    assert.ok(run.activities.every((a) => a.outcome === 'completed'));
    run.completed();
  },

  'tag-ref'(run) {
    assert.deepEqual(
      run.activities.map((a) => [a.id, a.type, a.outcome]),
      [['tag', 'tagRelease', 'completed']],
    );
    run.completed();
  },
  // ---- release-semantics-2 ----

  's2-happy'(run) {
    const start = startedAndWaited(run);
    assert.deepEqual(run.updates(), [start], 'no operator message');
    assert.deepEqual(run.signals(), []);
    assert.deepEqual(
      run.activities.slice(0, 2).map((a) => a.id),
      PREFLIGHT_FIRST,
    );
    assert.equal(run.activities.length, 16, 'validate, preflight, 3 builds, 3 publishes, 3 visibles, 4 images, GitHub Release');
    assert.ok(run.activities.every((a) => a.outcome === 'completed' && num(a.started?.attempt) === 1));
    assert.equal(new Set(run.activities.map((a) => a.id)).size, 16, 'no step scheduled twice');
    for (const a of run.activities) {
      const scheduled = run.events.find((e) => num(e.eventId) === a.eventId)!.activityTaskScheduledEventAttributes!;
      assert.ok(num(scheduled.heartbeatTimeout?.seconds) > 0, `${a.id} heartbeats, so an abort reaches it`);
    }
    const [preflight] = run.step('preflight');
    const checks = (preflight!.result as { checks: { check: string; detail: string }[] }).checks.map((c) => `${c.check}: ${c.detail}`);
    assert.deepEqual((start.result as { checks: string[] }).checks, checks, "CI's answer carries what preflight proved");
    assert.ok(start.completedEventId > preflight!.endEventId!, 'CI is answered once preflight passed');
    const firstPublish = Math.min(...run.ofType('publishPackage').map((a) => a.eventId));
    assert.ok(start.completedEventId < firstPublish, 'and before anything is published');
    run.completed();
  },

  's2-preflight-retry'(run) {
    const start = startedAndWaited(run);
    const [, retry, ...more] = run.updateOutcomes();
    assert.deepEqual(more, []);
    assert.deepEqual([start.ok, start.failureType], [false, 'PreflightFailed'], "CI's start-and-wait is refused with preflight's failure");
    assert.deepEqual([retry?.name, retry?.arg, retry?.ok], ['retry', 'preflight', true]);
    assert.ok(start.completedEventId < retry!.eventId, 'CI is answered before an operator retries');
    retriedAfter(run, 'preflight', 'PreflightFailed', retry!.eventId);
    const [first, second] = run.step('preflight') as [Activity, Activity];
    const timer = operatorWaitTimer(run, first);
    assert.equal(timer.seconds, 7 * 24 * 3600, 'the wait is bounded by the default timeouts.operator_wait, 7d');
    assert.deepEqual([timer.outcome, timer.endEventId! > retry!.eventId], ['canceled', true], "the retry ends the wait's timer");
    const builds = run.ofType('buildPackage');
    assert.equal(builds.length, 3);
    assert.ok(
      builds.every((b) => b.eventId > second.endEventId!),
      'nothing builds before preflight passed',
    );
    run.completed();
  },

  's2-operator-wait-expired'(run) {
    const start = startedAndWaited(run);
    assert.deepEqual(run.updates(), [start], 'no operator message');
    assert.equal((run.input as { config: { timeouts: { operator_wait: string } } }).config.timeouts.operator_wait, '2s');
    const [build, ...again] = run.step('build:otai-otobo-znuny');
    assert.deepEqual(again, [], 'nobody retried it');
    assert.equal(failureType(build), 'BuildFailed');
    assert.equal(build?.retryState, RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
    const timer = operatorWaitTimer(run, build);
    assert.deepEqual([timer.seconds, timer.outcome], [2, 'fired'], 'the 2 s bound passed');
    assert.deepEqual(run.ofType('publishPackage'), [], 'nothing published');
    assert.equal(run.failedWith()[0], 'OperatorWaitExpired');
  },

  's2-abort-running'(run) {
    const start = startedAndWaited(run);
    const [, abort, ...more] = run.updates();
    assert.deepEqual(more, []);
    assert.equal(abort?.name, 'abort');
    assert.ok(start.completedEventId < abort.eventId);
    const [image, ...again] = run.step('image:core');
    assert.deepEqual(again, []);
    assert.ok(image && image.eventId < abort.eventId, 'image:core was scheduled before the abort');
    assert.ok(image.cancelRequestedAt !== undefined && image.cancelRequestedAt > abort.eventId, 'the abort requests the running image cancelled');
    assert.equal(image.outcome, 'canceled', 'the image acknowledged its cancellation');
    const failed = num(run.last.eventId);
    assert.ok(
      image.endEventId! > image.cancelRequestedAt && image.endEventId! < failed,
      'the release fails only after the image acknowledged (ActivityTaskCanceled)',
    );
    assert.deepEqual(run.step('github-release'), []);
    assert.equal(run.failedWith()[0], 'Aborted');
  },

  's2-operator-retry'(run) {
    assert.deepEqual(
      run.signals().map((s) => s.name),
      ['startRelease'],
      'started by signal-with-start',
    );
    const [retry, ...more] = run.updates();
    assert.deepEqual(more, []);
    assert.deepEqual([retry?.name, retry?.arg], ['retry', 'build:otai-hf-local']);
    assert.deepEqual(
      run.activities.slice(0, 2).map((a) => a.id),
      PREFLIGHT_FIRST,
    );
    retriedAfter(run, 'build:otai-hf-local', 'BuildFailed', retry!.eventId);
    const [first, second] = run.step('build:otai-hf-local') as [Activity, Activity];
    const timer = operatorWaitTimer(run, first);
    assert.deepEqual([timer.outcome, timer.endEventId! > retry!.eventId], ['canceled', true], "the retry ends the wait's timer");
    const firstPublish = Math.min(...run.ofType('publishPackage').map((a) => a.eventId));
    assert.ok(second.eventId < firstPublish, 'nothing is published while a build waits');
    run.completed();
  },

  's2-token-wait'(run) {
    const [preflight, ...again] = run.step('preflight');
    assert.deepEqual(again, []);
    assert.equal((preflight?.input as { oidcToken?: string }).oidcToken, undefined, 'no token to check trusted publishing with');
    assert.equal(preflight?.outcome, 'completed');
    assert.deepEqual(run.updates(), []);
    tokenWaited(run);
  },

  's2-dry-run': dryRunOnly,

  's2-republish-per-variant'(run) {
    const [running, ...retags] = run.activities;
    assert.equal(running?.type, 'runningReleases');
    const pending = (running.result as { version: string; pendingImages?: { variant: string }[] }[]).flatMap((r) =>
      (r.pendingImages ?? []).map((i) => i.variant),
    );
    assert.deepEqual(pending, ['core'], 'one running release still moves core');
    assert.deepEqual(
      retags.map((a) => a.type),
      ['retagLatest', 'retagLatest', 'retagLatest'],
    );
    assert.deepEqual(retags.map((a) => (a.input as { variant: string }).variant).sort(), ['all', 'hf_local', 'otobo_znuny'], 'no retagLatest for core');
    assert.ok(run.activities.every((a) => a.outcome === 'completed'));
    const summary = run.result as { skippedVariants?: { variant: string; release: string }[] };
    assert.deepEqual(
      summary.skippedVariants?.map((v) => [v.variant, v.release]),
      [['core', 'v2.7.0']],
    );
  },
};

// ---- the tests ---------------------------------------------------------------------------------

/** The patch an `s2-` fixture of each workflow type was started on (workflows/release.ts, workflows/republish-latest.ts). */
const PATCH_OF: Record<z.infer<typeof indexSchema>[string]['workflowType'], string | undefined> = {
  release: 'release-semantics-2',
  republishLatest: 'republish-per-variant',
  tagRef: undefined,
};

describe('recorded histories', () => {
  let bundle: WorkflowBundleWithSourceMap;
  before(async () => {
    // One replay worker per fixture: its state changes at INFO would bury the test's own output.
    const logger = new DefaultLogger('WARN');
    Runtime.install({ logger });
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger });
  });

  it('every fixture in histories.json has its proof below, and every proof its fixture', () => {
    const scenarios = Object.values(index).map((e) => e.scenario);
    assert.deepEqual([...scenarios].sort(), Object.keys(PROOFS).sort());
  });

  for (const [file, entry] of Object.entries(index)) {
    it(`${entry.scenario}: replays against today's workflows (${file})`, async () => {
      const history = historyFromJSON(JSON.parse(await readFile(join(FIXTURES, file), 'utf8')));
      const events = history.events ?? [];
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      assert.equal(started?.workflowType?.name, entry.workflowType);
      const proof = PROOFS[entry.scenario];
      assert.ok(proof, `a proof for ${entry.scenario}`);
      const run = new Run(events);
      // Which code path the run took: re-recording a fixture from the other generation's code
      // would replay fine and guard nothing.
      const patch = entry.scenario.startsWith('s2-') ? PATCH_OF[entry.workflowType] : undefined;
      assert.deepEqual(run.patches(), patch ? [patch] : [], patch ? `started on ${patch}` : 'started before any patch');
      proof(run);
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, entry.workflowId);
    });
  }
});
