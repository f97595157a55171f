// One release of one tag, the workflow CI, the webhook and the CLI start. It answers the operator's
// messages (status, retry, skip, abort) and CI's (startRelease, oidcToken), then runs the release's
// steps (./release-dag.ts) inside a scope an abort cancels. Deterministic orchestration only; every
// side effect is an activity.
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  patched,
  setHandler,
  setWorkflowOptions,
  workflowInfo,
} from '@temporalio/workflow';
import {
  abortSignal,
  abortUpdate,
  oidcTokenSignal,
  releaseUnderWayUpdate,
  retrySignal,
  retryUpdate,
  skipSignal,
  skipUpdate,
  startReleaseSignal,
  statusQuery,
} from '../src/contract/messages';
import type { ReleaseInput, ReleaseSummary } from '../src/contract/release';
import { PREFLIGHT_STEP, stepNames, VALIDATE_STEP } from '../src/contract/steps';
import { OidcTokens } from './oidc-tokens';
import { runReleaseDag } from './release-dag';
import { StepBoard } from './step-board';
import { DEFAULT_OPERATOR_WAIT, releaseSteps } from './step-options';
import { failureType, StepRunner } from './step-runner';
import { UnderWayGate } from './under-way';

/**
 * Releases started since this patch have a preflight step, answer CI's start-and-wait, bound an
 * operator wait by timeouts.operator_wait, and wait for running steps to acknowledge an abort.
 * Asked once, at the start: a release keeps the semantics it started with, so one recorded before
 * replays without any of these commands (test/unit/release.replay.test.ts).
 */
export const RELEASE_SEMANTICS_2 = 'release-semantics-2';

export async function release(input: ReleaseInput): Promise<ReleaseSummary> {
  const { config, tag } = input;
  const semantics2 = patched(RELEASE_SEMANTICS_2);
  const board = new StepBoard(tag, stepNames(config, input.dryRun ?? false, semantics2));
  const underWay = new UnderWayGate();
  let abortReason: string | undefined;
  const aborted = () => abortReason !== undefined;

  const tokens = new OidcTokens();
  setHandler(startReleaseSignal, (s) => {
    if (s.tag === tag) tokens.accept(s.pypiOidcToken);
  });
  setHandler(oidcTokenSignal, (s) => tokens.accept(s.token));
  setHandler(
    releaseUnderWayUpdate,
    async (s) => {
      tokens.accept(s.pypiOidcToken);
      await condition(() => underWay.settled);
      return underWay.result();
    },
    {
      validator: (s) => {
        if (s.tag !== tag) throw new Error(`this workflow releases ${tag}, not ${s.tag}`);
      },
    },
  );

  const scope = new CancellationScope();
  const abort = (reason: string) => {
    abortReason = reason.trim() || 'no reason given';
    scope.cancel();
    return `release ${tag} aborting: ${abortReason}`;
  };
  setHandler(statusQuery, () => board.status());
  setHandler(retryUpdate, (s) => board.decide(s, 'retry'), { validator: (s) => board.validateDecision(s, 'retry') });
  setHandler(skipUpdate, (s) => board.decide(s, 'skip'), { validator: (s) => board.validateDecision(s, 'skip') });
  setHandler(abortUpdate, abort, {
    validator: (reason) => {
      if (!reason.trim()) throw new Error('abort needs a reason');
      if (aborted()) throw new Error('the release is already aborting');
    },
  });
  // Signals cannot be refused, so invalid ones are ignored; the UI shows the step state either way.
  setHandler(retrySignal, (s) => {
    try {
      board.decide(s, 'retry');
    } catch {
      /* not waiting: nothing to retry */
    }
  });
  setHandler(skipSignal, (s) => {
    try {
      board.decide(s, 'skip');
    } catch {
      /* not waiting, or not skippable */
    }
  });
  setHandler(abortSignal, (reason) => {
    if (!aborted()) abort(reason);
  });

  const runner = new StepRunner(board, aborted, {
    ...(semantics2 ? { operatorWait: config.timeouts.operator_wait ?? DEFAULT_OPERATOR_WAIT } : {}),
    // CI's answer: refused as soon as validate or preflight fails (preflight then waits for an operator).
    onFailure: (step, type, message) => {
      if (step === VALIDATE_STEP || step === PREFLIGHT_STEP) underWay.refuse(type, message);
    },
  });
  const steps = releaseSteps(config, semantics2);
  try {
    const result = await scope.run(() => runReleaseDag({ input, steps, board, runner, tokens, aborted, underWay, withPreflight: semantics2 }));
    board.finish('succeeded');
    await condition(allHandlersFinished);
    return result;
  } catch (err) {
    if (semantics2) {
      // One step's end is every step's: the others are cancelled too (an expired operator wait, a
      // release stopper), and the release ends only once each stopped, so nothing lands after it.
      if (!aborted()) scope.cancel();
      await runner.settled();
    }
    underWay.refuse(aborted() ? 'Aborted' : failureType(err), aborted() ? `aborted by an operator: ${abortReason}` : errorMessage(err));
    for (const s of board.status().steps) {
      if (s.state === 'pending' || s.state === 'running' || s.state === 'waiting-for-operator') {
        board.set(s.step, aborted() ? 'failed' : s.state === 'pending' ? 'skipped' : 'failed', aborted() ? `aborted: ${abortReason}` : undefined);
      }
    }
    board.finish('failed');
    // CI's start-and-wait gets its answer before the release ends.
    await condition(allHandlersFinished);
    if (aborted()) throw ApplicationFailure.nonRetryable(`release ${tag} aborted by an operator: ${abortReason}`, 'Aborted');
    throw err;
  }
}

// Pinned under Worker Versioning: a release finishes on the worker build that started it, so no
// build ever replays another's history (docs/DEPLOY.md has the rollout). Only a versioned worker may
// name a behaviour; the server refuses it from an unversioned one.
setWorkflowOptions(() => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'PINNED' } : {}), release);

function errorMessage(err: unknown): string {
  if (err instanceof Error) return (err.cause instanceof Error ? err.cause.message : undefined) ?? err.message;
  return String(err);
}
