// The OIDC token CI forwards for trusted publishing (with startRelease) or sends later (oidcToken).
// A publish whose token is missing or expired waits here for a fresh one, up to token_wait.
import type { Duration } from '@temporalio/common';
import { condition } from '@temporalio/workflow';
import { failure, TOKEN_FAILURES } from '../src/contract/failures';
import type { StepBoard } from './step-board';
import { failureMessage, failureType } from './step-runner';

export class OidcTokens {
  private token: string | undefined;
  private generation = 0;

  /** The newest token CI sent, if any. */
  get current(): string | undefined {
    return this.token;
  }

  accept(token: string | undefined): void {
    if (!token) return;
    this.token = token;
    this.generation++;
  }

  /** Calls `publish` with the newest token; a token failure waits for a fresh token and tries again. */
  async publish<T>(
    step: string,
    board: StepBoard,
    aborted: () => boolean,
    tokenWait: Duration,
    publish: (token: string | undefined) => Promise<T>,
  ): Promise<T> {
    for (;;) {
      const seen = this.generation;
      try {
        return await publish(this.token);
      } catch (err) {
        if (!TOKEN_FAILURES.has(failureType(err) ?? '')) throw err;
        if (this.generation > seen) continue;
        board.set(step, 'waiting-for-operator', 'waiting for a fresh OIDC token (re-run the CI job, or signal oidcToken)');
        const arrived = await condition(() => this.generation > seen || aborted(), tokenWait);
        if (aborted()) throw err;
        board.set(step, 'running');
        if (!arrived) {
          throw failure('OidcTokenTimeout', `waited ${String(tokenWait)} for a fresh OIDC token and got none: ${failureMessage(err)}`);
        }
      }
    }
  }
}
