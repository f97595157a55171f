// Starting and following releases from outside the worker: the CLI, the demo and the tests.
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
// @temporalio/proto is CommonJS without statically detectable named exports: import the whole module.
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { DEFAULT_TASK_QUEUE, releaseWorkflowId, repositorySlug, tagWorkflowId } from '../contract/workflow-ids';
import type { TagshipConfig } from '../config/schema';
import type { ReleaseInput, ReleaseSummary } from '../contract/release';
import { dataConverter } from '../codec/data-converter';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { keyRingFromEnv, type KeyRing } from '../codec/encryption-codec';
import { badTagMessage, versionFromTag } from '../contract/version';
import { TAGSHIP_REPO, TAGSHIP_STATUS, TAGSHIP_VERSION } from '../contract/search-attributes';
import { startReleaseSignal, type StartReleaseSignal } from '../contract/messages';
import { invalidRef, type TaggedRelease, type TagReleaseInput } from '../../activities/tag-release';

export interface TemporalTarget {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  /** Base URL of the Temporal UI, for links. */
  readonly uiUrl: string;
  /** Payload encryption keys (TAGSHIP_CODEC_KEYS); must match the workers'. */
  readonly codec?: KeyRing;
}

export function targetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const codec = keyRingFromEnv(env);
  return {
    address: env.TAGSHIP_TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TAGSHIP_NAMESPACE ?? 'default',
    taskQueue: env.TAGSHIP_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    uiUrl: env.TAGSHIP_UI_URL ?? 'http://127.0.0.1:8233',
    ...(codec ? { codec } : {}),
  };
}

export async function connectClient(target: Pick<TemporalTarget, 'address' | 'namespace' | 'codec'>): Promise<Client> {
  const connection = await Connection.connect({ address: target.address });
  return new Client({ connection, namespace: target.namespace, dataConverter: dataConverter(target.codec) });
}

export function workflowUiLink(target: Pick<TemporalTarget, 'uiUrl' | 'namespace'>, workflowId: string): string {
  return `${target.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(target.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export class InvalidTagError extends Error {
  override name = 'InvalidTagError';
}

export interface StartedRelease {
  readonly workflowId: string;
  readonly runId: string;
  /** False when a release with this id was already running (or done) and was reused. */
  readonly started: boolean;
  readonly handle: WorkflowHandle;
}

/** What the Temporal UI shows and filters on: a one-line summary and tagship's search attributes. */
function releaseMetadata(config: TagshipConfig, version: string, dryRun: boolean) {
  const repo = repositorySlug(config);
  return {
    staticSummary: `${dryRun ? 'Dry run of' : 'Release'} ${repo} v${version}: ${config.packages.length} packages, ${config.variants.length} images`,
    staticDetails: [
      `**Packages:** ${config.packages.map((p) => `\`${p.name}\``).join(', ')} → ${config.index.upload_url}`,
      `**Images:** ${config.variants.map((v) => `\`${v.name}\``).join(', ')} for ${config.images.platforms.join(', ')} → ${config.images.repository}`,
    ].join('\n\n'),
    typedSearchAttributes: [
      { key: TAGSHIP_REPO, value: repo },
      { key: TAGSHIP_VERSION, value: version },
      { key: TAGSHIP_STATUS, value: 'running' },
    ],
  };
}

/** The release a tag names: its version and workflow id; an invalid tag is refused with the seed's words. */
export function releaseIdentity(config: TagshipConfig, tag: string, dryRun = false): { version: string; workflowId: string } {
  const version = versionFromTag(tag);
  if (version === undefined) throw new InvalidTagError(badTagMessage(tag));
  return { version, workflowId: releaseWorkflowId(config, version, dryRun) };
}

/** What start and signal-with-start share: task queue, input, UI metadata and the id reuse rule. */
function releaseStartOptions(target: Pick<TemporalTarget, 'taskQueue'>, config: TagshipConfig, tag: string, dryRun: boolean) {
  const { version, workflowId } = releaseIdentity(config, tag, dryRun);
  return {
    taskQueue: target.taskQueue,
    workflowId,
    args: [{ config, tag, dryRun }] as [ReleaseInput],
    ...releaseMetadata(config, version, dryRun),
    // A failed or terminated release may be started again; a completed one is never repeated.
    workflowIdReusePolicy: dryRun ? ('ALLOW_DUPLICATE' as const) : ('ALLOW_DUPLICATE_FAILED_ONLY' as const),
  };
}

function alreadyDone(err: unknown, workflowId: string): unknown {
  return err instanceof WorkflowExecutionAlreadyStartedError
    ? new ReleaseAlreadyDoneError(`${workflowId} has already completed; a released version is never released again`)
    : err;
}

/**
 * Starts the release of `tag`, or returns the one already running for it: the workflow id is a
 * function of repository and version, so a redelivered webhook or a re-run CI job never releases twice.
 */
export async function startRelease(
  client: Client,
  target: Pick<TemporalTarget, 'taskQueue'>,
  config: TagshipConfig,
  tag: string,
  opts: { dryRun?: boolean } = {},
): Promise<StartedRelease> {
  const options = releaseStartOptions(target, config, tag, opts.dryRun ?? false);
  const { workflowId } = options;
  const running = await client.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => (d.status.name === 'RUNNING' ? d : undefined))
    .catch(() => undefined);
  if (running) return { workflowId, runId: running.runId, started: false, handle: client.workflow.getHandle(workflowId) };
  try {
    // Two starts racing each other land on one run.
    const handle = await client.workflow.start('release', { ...options, workflowIdConflictPolicy: 'USE_EXISTING' });
    return { workflowId, runId: handle.firstExecutionRunId, started: true, handle };
  } catch (err) {
    throw alreadyDone(err, workflowId);
  }
}

/**
 * CI's way in: signal-with-start `startRelease`, carrying the OIDC token PyPI's trusted publishing
 * needs. Starts the release, or hands a running one the (fresh) token.
 */
export async function signalStartRelease(
  client: Client,
  target: Pick<TemporalTarget, 'taskQueue'>,
  config: TagshipConfig,
  signal: StartReleaseSignal,
): Promise<Omit<StartedRelease, 'started'>> {
  const options = releaseStartOptions(target, config, signal.tag, signal.dryRun ?? false);
  try {
    const handle = await client.workflow.signalWithStart('release', { ...options, signal: startReleaseSignal, signalArgs: [signal] });
    return { workflowId: options.workflowId, runId: handle.signaledRunId, handle: client.workflow.getHandle(options.workflowId) };
  } catch (err) {
    throw alreadyDone(err, options.workflowId);
  }
}

export class ReleaseAlreadyDoneError extends Error {
  override name = 'ReleaseAlreadyDoneError';
}

/** Why a branch or commit could not be tagged for release; `type` is the activity's failure type (TagExists, VersionMismatch, …). */
export class TagRefError extends Error {
  override name = 'TagRefError';
  constructor(
    message: string,
    readonly type: string | undefined,
  ) {
    super(message);
  }
}

/**
 * The seed's manual release: a worker reads the version at `ref` (a branch or commit), creates tag
 * v<version> there and pushes it. Repeating it for the same commit is harmless; a tag of that
 * version at another commit is refused. The caller then starts the tag's release as usual.
 */
export async function tagFromRef(
  client: Client,
  target: Pick<TemporalTarget, 'taskQueue'>,
  config: TagshipConfig,
  ref: string,
  opts: { version?: string; expectedCommit?: string } = {},
): Promise<TaggedRelease> {
  const problem = invalidRef(ref);
  if (problem) throw new TagRefError(problem, 'InvalidRef');
  const input: TagReleaseInput = {
    config,
    ref,
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    ...(opts.expectedCommit !== undefined ? { expectedCommit: opts.expectedCommit } : {}),
  };
  try {
    return await client.workflow.execute('tagRef', {
      taskQueue: target.taskQueue,
      // Requests that could tag differently never share a run: the version and commit asked for are part of the id.
      workflowId: tagWorkflowId(config, ref, opts.version, opts.expectedCommit),
      args: [input],
      // Two requests for the same ref at once share one run; a finished one may run again.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
    throw new TagRefError(cause?.message ?? err.message, cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined);
  }
}

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

/**
 * Follows a release until it closes, calling `onStep` for each step event as it appears in
 * history, and returns the summary (or throws the workflow's failure).
 */
export async function followRelease(handle: WorkflowHandle, onStep: (e: StepEvent) => void, pollMs = 500): Promise<ReleaseSummary> {
  const scheduled = new Map<number, { step: string; at: number }>();
  let seen = 0;
  const result = handle.result() as Promise<ReleaseSummary>;
  let done = false;
  result.then(
    () => (done = true),
    () => (done = true),
  );
  for (;;) {
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    await decodeFailureMessages(events.slice(seen), handle.client.options.loadedDataConverter);
    for (const e of stepEvents(events.slice(seen), scheduled)) onStep(e);
    seen = events.length;
    if (done) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return result;
}

/** Reads a payload from history as plain data (used by the benchmark and tests). */
export function decodePayload(p: temporal.api.common.v1.IPayload | null | undefined): unknown {
  return p ? defaultPayloadConverter.fromPayload(p as never) : undefined;
}
