// Following a release from its history: step events as they happen, failure messages decoded with
// the client's codec, and the summary at the end; or, for a caller that cannot wait for a person
// (a CI job), until a step waits for an operator.
import type { WorkflowHandle } from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/index.js';
// @temporalio/proto is CommonJS without statically detectable named exports: import the whole module.
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { statusQuery } from '../contract/messages';
import type { ReleaseSummary, StepStatus } from '../contract/release';

export type StepEvent =
  | { readonly kind: 'scheduled'; readonly step: string }
  | { readonly kind: 'started'; readonly step: string; readonly attempt: number }
  | { readonly kind: 'completed'; readonly step: string; readonly ms: number }
  | { readonly kind: 'failed'; readonly step: string; readonly message: string }
  | { readonly kind: 'retrying'; readonly step: string; readonly attempt: number; readonly message: string };

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = proto.temporal.api.enums.v1.EventType;

function ms(t: HistoryEvent['eventTime']): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** Translates history events into step events; `scheduled` maps event ids to step names. */
export function stepEvents(events: readonly HistoryEvent[], scheduled = new Map<number, { step: string; at: number }>()): StepEvent[] {
  const out: StepEvent[] = [];
  for (const e of events) {
    const id = Number(e.eventId ?? 0);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const step = e.activityTaskScheduledEventAttributes?.activityId ?? '?';
        scheduled.set(id, { step, at: ms(e.eventTime) });
        out.push({ kind: 'scheduled', step });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes;
        const s = scheduled.get(Number(a?.scheduledEventId ?? 0));
        const attempt = a?.attempt ?? 1;
        if (s && attempt > 1) {
          const message = a?.lastFailure?.message ?? '';
          out.push({ kind: 'retrying', step: s.step, attempt, message });
        } else if (s) out.push({ kind: 'started', step: s.step, attempt });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const s = scheduled.get(Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? 0));
        if (s) out.push({ kind: 'completed', step: s.step, ms: ms(e.eventTime) - s.at });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const a = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
        const s = scheduled.get(Number(a?.scheduledEventId ?? 0));
        if (s) out.push({ kind: 'failed', step: s.step, message: a?.failure?.message ?? 'timed out' });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/**
 * With payload encryption, failure messages in history read "Encoded failure"; this restores them
 * (in place) with the client's codec, so followers show what actually went wrong.
 */
export async function decodeFailureMessages(events: readonly HistoryEvent[], converter: LoadedDataConverter): Promise<void> {
  for (const e of events) {
    const failures = [
      e.activityTaskFailedEventAttributes?.failure,
      e.activityTaskTimedOutEventAttributes?.failure,
      e.activityTaskStartedEventAttributes?.lastFailure,
    ];
    for (const f of failures) {
      if (!f?.encodedAttributes) continue;
      const err = await decodeOptionalFailureToOptionalError(converter, f).catch(() => undefined);
      if (err?.message) f.message = err.message;
    }
  }
}

/** How following ended: the release closed (its summary), or steps wait for an operator. */
export type FollowOutcome = { readonly kind: 'ended'; readonly summary: ReleaseSummary } | { readonly kind: 'waiting'; readonly steps: readonly StepStatus[] };

/** The release's status search attribute changed: it may have started waiting for an operator. */
function statusChanged(e: HistoryEvent): boolean {
  return e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES;
}

async function waitingSteps(handle: WorkflowHandle): Promise<StepStatus[]> {
  const status = await handle.query(statusQuery).catch(() => undefined);
  return status?.steps.filter((s) => s.state === 'waiting-for-operator') ?? [];
}

/**
 * Follows a release, calling `onStep` for each step event as it appears in history, until it
 * closes (its summary, or the workflow's failure thrown) or, with `stopWhenWaiting`, until a step
 * waits for an operator. Whether one waits is asked (status query) after history showed a change of
 * the release's status, and on every poll while a step's last event is its final failure: the
 * query may be answered before the workflow marked the step, and a release started without
 * tagship's search attributes shows no status change.
 */
export async function followUntil(
  handle: WorkflowHandle,
  onStep: (e: StepEvent) => void,
  opts: { readonly stopWhenWaiting: boolean; readonly pollMs?: number },
): Promise<FollowOutcome> {
  const scheduled = new Map<number, { step: string; at: number }>();
  let seen = 0;
  const result = handle.result() as Promise<ReleaseSummary>;
  let done = false;
  result.then(
    () => (done = true),
    () => (done = true),
  );
  const failed = new Set<string>();
  for (;;) {
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const fresh = events.slice(seen);
    await decodeFailureMessages(fresh, handle.client.options.loadedDataConverter);
    for (const e of stepEvents(fresh, scheduled)) {
      onStep(e);
      if (e.kind === 'failed') failed.add(e.step);
      else failed.delete(e.step);
    }
    seen = events.length;
    if (done) break;
    if (opts.stopWhenWaiting && (failed.size > 0 || fresh.some(statusChanged))) {
      const waiting = await waitingSteps(handle);
      if (waiting.length > 0) return { kind: 'waiting', steps: waiting };
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
  return { kind: 'ended', summary: await result };
}

/**
 * Follows a release until it closes, calling `onStep` for each step event as it appears in
 * history, and returns the summary (or throws the workflow's failure).
 */
export async function followRelease(handle: WorkflowHandle, onStep: (e: StepEvent) => void, pollMs = 500): Promise<ReleaseSummary> {
  const outcome = await followUntil(handle, onStep, { stopWhenWaiting: false, pollMs });
  if (outcome.kind !== 'ended') throw new Error('unreachable: following without stopWhenWaiting ended waiting');
  return outcome.summary;
}
