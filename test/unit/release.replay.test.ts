// Guards workflow determinism across code changes: every history in test/fixtures/histories.json
// (a real release recorded by the end-to-end test, and the operator, retry, abort, token, dry-run
// and stop paths recorded by test/support/record-histories.ts from the code running releases were
// started with) must replay against today's workflow code. Each fixture is also checked for what it
// is there to prove, so none can silently be re-recorded as a happy path.
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
  readonly cancelRequested: boolean;
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
        const activity: Activity = { eventId: id, id: a.activityId!, type: a.activityType!.name!, input: json(a.input), cancelRequested: false };
        this.activities.push(activity);
        bySchedule.set(id, activity);
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        update(num(e.activityTaskStartedEventAttributes!.scheduledEventId), { started: e.activityTaskStartedEventAttributes! });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
        update(num(e.activityTaskCompletedEventAttributes!.scheduledEventId), { outcome: 'completed' });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_FAILED) {
        const a = e.activityTaskFailedEventAttributes!;
        update(num(a.scheduledEventId), { outcome: 'failed', failure: a.failure!, retryState: a.retryState! });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT) {
        update(num(e.activityTaskTimedOutEventAttributes!.scheduledEventId), { outcome: 'timed-out' });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_CANCELED) {
        update(num(e.activityTaskCanceledEventAttributes!.scheduledEventId), { outcome: 'canceled' });
      } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED) {
        update(num(e.activityTaskCancelRequestedEventAttributes!.scheduledEventId), { cancelRequested: true });
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

  /** Accepted updates: name, argument and the event that accepted them; each must have completed successfully. */
  updates(): { name: string; arg: unknown; eventId: number }[] {
    const accepted = this.events.filter((e) => e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
    return accepted.map((e) => {
      const input = e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!;
      const done = this.events.find(
        (c) =>
          c.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED &&
          num(c.workflowExecutionUpdateCompletedEventAttributes!.acceptedEventId) === num(e.eventId),
      );
      assert.ok(done?.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success, `update ${input.name} completed successfully`);
      return { name: input.name!, arg: json(input.args), eventId: num(e.eventId) };
    });
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
    assert.equal(image.cancelRequested, true, 'the abort cancels the running image');
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

  'token-wait'(run) {
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
  },

  'dry-run'(run) {
    const [validate] = run.ofType('validateRelease');
    assert.equal((validate?.input as { dryRun?: boolean }).dryRun, true);
    assert.deepEqual([...new Set(run.activities.map((a) => a.type))].sort(), ['buildPackage', 'validateRelease']);
    run.completed();
  },

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
};

// ---- the tests ---------------------------------------------------------------------------------

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
      proof(new Run(events));
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, entry.workflowId);
    });
  }
});
