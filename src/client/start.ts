// Starting releases: from a tag (webhook, CI, CLI) or from a branch or commit (tagged first by the
// tagRef workflow). One id per repository and version, so a second start joins the first.
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { TagshipConfig } from '../config/schema';
import type { TaggedRelease } from '../contract/activities';
import { invalidRef } from '../contract/git-refs';
import { startReleaseSignal, type StartReleaseSignal } from '../contract/messages';
import type { ReleaseInput, TagRefInput } from '../contract/release';
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
