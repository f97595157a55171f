// Starting releases: from a tag (webhook, CI, CLI) or from a branch or commit (tagged first by the
// tagRef workflow). One id per repository and version, so a second start joins the first.
//
// Who may start a closed id again differs by door. An explicit start (`tagship release start`,
// `POST /api/releases`) may restart a failed or aborted release: a person or a CI job asked for it
// (WorkflowIdReusePolicy ALLOW_DUPLICATE_FAILED_ONLY; a completed one is never repeated). A webhook
// delivery never may (REJECT_DUPLICATE): GitHub redelivers a delivery with the same body and
// signature, and anyone who saw one can replay it, so a delivery that restarted a release an
// operator aborted would undo the abort. The delivery id (X-GitHub-Delivery) is kept in the run's
// memo, so a repeat of the delivery that started a release is recognised as such.
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { TagshipConfig } from '../config/schema';
import type { TaggedRelease } from '../contract/activities';
import { invalidRef } from '../contract/git-refs';
import { releaseUnderWayUpdate, startReleaseSignal, type StartReleaseSignal } from '../contract/messages';
import type { ReleaseInput, ReleaseUnderWay, TagRefInput } from '../contract/release';
import { TAGSHIP_REPO, TAGSHIP_STATUS, TAGSHIP_VERSION } from '../contract/search-attributes';
import { badTagMessage, versionFromTag } from '../contract/version';
import { releaseWorkflowId, repositorySlug, tagWorkflowId } from '../contract/workflow-ids';
import type { TemporalTarget } from './connect';

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

/** The memo field holding the X-GitHub-Delivery id of the webhook delivery that started a release. */
export const DELIVERY_MEMO = 'githubDelivery';

/** What a webhook delivery did to the release of its tag. */
export type WebhookStart =
  /** It started the release. */
  | { readonly outcome: 'started'; readonly workflowId: string; readonly runId: string }
  /** A release of that version was already running (started by another delivery, CI or an operator); it goes on. */
  | { readonly outcome: 'joined'; readonly workflowId: string; readonly runId: string }
  /** This very delivery started the release before (a redelivery): nothing was done. */
  | { readonly outcome: 'handled'; readonly workflowId: string; readonly status: string }
  /** A release of that version has ended (completed, failed, aborted): a webhook never starts it again. */
  | { readonly outcome: 'closed'; readonly workflowId: string; readonly status: string };

/** The latest run of `workflowId`, or undefined when there is none; any other error (Temporal unreachable) is thrown. */
async function describeRelease(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

function webhookOutcome(d: WorkflowExecutionDescription, delivery: string): WebhookStart {
  const status = d.status.name;
  if (d.memo?.[DELIVERY_MEMO] === delivery) return { outcome: 'handled', workflowId: d.workflowId, status };
  if (status === 'RUNNING') return { outcome: 'joined', workflowId: d.workflowId, runId: d.runId };
  return { outcome: 'closed', workflowId: d.workflowId, status };
}

/**
 * A webhook delivery's start: starts the release of `tag` unless a run of its id exists. A running
 * one is joined; an ended one (completed, failed, aborted, terminated) is left alone, since only an
 * explicit start restarts a release. `delivery` (X-GitHub-Delivery) goes into the run's memo.
 */
export async function startReleaseFromWebhook(
  client: Client,
  target: Pick<TemporalTarget, 'taskQueue'>,
  config: TagshipConfig,
  tag: string,
  delivery: string,
): Promise<WebhookStart> {
  const options = releaseStartOptions(target, config, tag, false);
  const existing = await describeRelease(client, options.workflowId);
  if (existing) return webhookOutcome(existing, delivery);
  try {
    const handle = await client.workflow.start('release', {
      ...options,
      memo: { [DELIVERY_MEMO]: delivery },
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // A start racing this one (a concurrent delivery) is told apart by describing what won.
      workflowIdConflictPolicy: 'FAIL',
    });
    return { outcome: 'started', workflowId: options.workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const winner = await describeRelease(client, options.workflowId);
    if (!winner) throw err;
    return webhookOutcome(winner, delivery);
  }
}

/** What CI's start-and-wait learned about the release. */
export type UnderWayAnswer =
  /** validate and preflight passed. */
  | { readonly kind: 'under-way'; readonly underWay: ReleaseUnderWay }
  /** validate or preflight stopped the release, or waits for an operator: that step's failure type and message. */
  | { readonly kind: 'stopped'; readonly type: string; readonly message: string }
  /** Still validating when the wait ran out, or the update went unanswered (`reason`): the release goes on; `release status` tells the rest. */
  | { readonly kind: 'starting'; readonly reason?: string }
  /** A release started by a tagship from before this answer existed: it runs (and got CI's token), but cannot say how far. */
  | { readonly kind: 'running' };

export interface UnderWayStart {
  readonly workflowId: string;
  /** True when a release of this id was already running and this request joined it. */
  readonly joined: boolean;
  readonly handle: WorkflowHandle;
  readonly answer: UnderWayAnswer;
}

const DESCRIBE_DEADLINE_MS = 10_000;

/** How long a start waits for validate and preflight before answering `starting`. */
export const DEFAULT_UNDER_WAY_WAIT_MS = 10 * 60_000;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// What the workflow SDK answers an update that the (older) workflow has no handler for.
const NO_HANDLER = 'No registered handler for update';

/** The failure a closed release ended with, as a `stopped` answer; undefined when it did not fail. */
async function endedAnswer(handle: WorkflowHandle): Promise<UnderWayAnswer | undefined> {
  try {
    await handle.result();
    return undefined;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) return { kind: 'stopped', type: 'ReleaseEnded', message: errorText(err) };
    const cause = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
    return {
      kind: 'stopped',
      type: cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'ReleaseEnded',
      message: cause?.message ?? err.message,
    };
  }
}

/**
 * Starts the release of `request.tag` (or joins the running one) by update-with-start of
 * `startReleaseAndWait`, and waits until validate and preflight have passed, stopped it, or the
 * wait (`waitMs`) runs out. The update carries what the startRelease signal carries (CI's OIDC
 * token). An explicit start: a failed or aborted release is started again, a completed one is
 * refused (ReleaseAlreadyDoneError).
 */
export async function startReleaseUnderWay(
  client: Client,
  target: Pick<TemporalTarget, 'taskQueue'>,
  config: TagshipConfig,
  request: StartReleaseSignal,
  opts: { waitMs?: number } = {},
): Promise<UnderWayStart> {
  const options = releaseStartOptions(target, config, request.tag, request.dryRun ?? false);
  const { workflowId } = options;
  const handle = client.workflow.getHandle(workflowId);
  // Only for the words ("started" or "already running"): the update answers the same either way.
  // Bounded: an unreachable Temporal is said within seconds, not after the SDK's half minute of retries.
  const joined = (await client.withDeadline(Date.now() + DESCRIBE_DEADLINE_MS, () => describeRelease(client, workflowId)))?.status.name === 'RUNNING';
  const answer = (a: UnderWayAnswer): UnderWayStart => ({ workflowId, joined, handle, answer: a });
  const bound = new AbortController();
  const timer = setTimeout(() => bound.abort(), opts.waitMs ?? DEFAULT_UNDER_WAY_WAIT_MS);
  try {
    const underWay = await client.withAbortSignal(bound.signal, () =>
      client.workflow.executeUpdateWithStart(releaseUnderWayUpdate, {
        args: [request],
        startWorkflowOperation: new WithStartWorkflowOperation('release', { ...options, workflowIdConflictPolicy: 'USE_EXISTING' }),
      }),
    );
    return answer({ kind: 'under-way', underWay });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && cause.message.startsWith(NO_HANDLER)) {
        await handle.signal(startReleaseSignal, request);
        return answer({ kind: 'running' });
      }
      const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
      return answer({ kind: 'stopped', type, message: cause?.message ?? err.message });
    }
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw alreadyDone(err, workflowId);
    const now = await describeRelease(client, workflowId);
    // Running, but the answer could not be had: the wait ran out, or the server gave up on the
    // update (say while no worker takes the release). As far as anyone knows, it is still starting.
    if (now?.status.name === 'RUNNING') return answer({ kind: 'starting', ...(bound.signal.aborted ? {} : { reason: errorText(err) }) });
    // The release ended between the start and the update (aborted, or failed in its first steps).
    const ended = now ? await endedAnswer(handle) : undefined;
    if (ended) return answer(ended);
    throw err;
  } finally {
    clearTimeout(timer);
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
  const input: TagRefInput = {
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
