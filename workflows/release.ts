// One release of one tag, the workflow CI, the webhook and the CLI start. It answers the operator's
// messages (status, retry, skip, abort) and CI's (startRelease, oidcToken), then runs the release's
// steps (./release-dag.ts) inside a scope an abort cancels. Deterministic orchestration only; every
// side effect is an activity.
import { ApplicationFailure, CancellationScope, setHandler } from '@temporalio/workflow';
import {
  abortSignal,
  abortUpdate,
  oidcTokenSignal,
  retrySignal,
  retryUpdate,
  skipSignal,
  skipUpdate,
  startReleaseSignal,
  statusQuery,
} from '../src/contract/messages';
import type { ReleaseInput, ReleaseSummary } from '../src/contract/release';
import { stepNames } from '../src/contract/steps';
import { OidcTokens } from './oidc-tokens';
import { runReleaseDag } from './release-dag';
import { StepBoard } from './step-board';
import { releaseSteps } from './step-options';
import { StepRunner } from './step-runner';

export async function release(input: ReleaseInput): Promise<ReleaseSummary> {
  const { config, tag } = input;
  const board = new StepBoard(tag, stepNames(config, input.dryRun ?? false));
  let abortReason: string | undefined;
  const aborted = () => abortReason !== undefined;

  const tokens = new OidcTokens();
  setHandler(startReleaseSignal, (s) => {
    if (s.tag === tag) tokens.accept(s.pypiOidcToken);
  });
  setHandler(oidcTokenSignal, (s) => tokens.accept(s.token));

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

  try {
    const runner = new StepRunner(board, aborted);
    const result = await scope.run(() => runReleaseDag({ input, steps: releaseSteps(config), board, runner, tokens, aborted }));
    board.finish('succeeded');
    return result;
  } catch (err) {
    for (const s of board.status().steps) {
      if (s.state === 'pending' || s.state === 'running' || s.state === 'waiting-for-operator') {
        board.set(s.step, aborted() ? 'failed' : s.state === 'pending' ? 'skipped' : 'failed', aborted() ? `aborted: ${abortReason}` : undefined);
      }
    }
    board.finish('failed');
    if (aborted()) throw ApplicationFailure.nonRetryable(`release ${tag} aborted by an operator: ${abortReason}`, 'Aborted');
    throw err;
  }
}
