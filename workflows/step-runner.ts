// Runs one step of a release: marks it on the board, and when it fails after its retries, waits for
// an operator to retry or skip it (or for the release to be aborted). Validate and release-stopping
// failures never wait: a bad tag or mismatched versions fail the release at once, as in the seed.
import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { RELEASE_STOPPERS } from '../src/contract/failures';
import { VALIDATE_STEP } from '../src/contract/steps';
import type { StepBoard } from './step-board';

export const SKIPPED = Symbol('skipped');
export type Skipped = typeof SKIPPED;

export function failureType(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
}

export function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

export class StepRunner {
  constructor(
    private readonly board: StepBoard,
    private readonly aborted: () => boolean,
  ) {}

  async run<T>(name: string, call: () => Promise<T>): Promise<T | Skipped> {
    for (;;) {
      this.board.set(name, 'running');
      try {
        const result = await call();
        this.board.set(name, 'succeeded');
        return result;
      } catch (err) {
        if (isCancellation(err) || this.aborted()) throw err;
        const message = failureMessage(err);
        if (name === VALIDATE_STEP || RELEASE_STOPPERS.has(failureType(err) ?? '')) {
          this.board.set(name, 'failed', message);
          throw err;
        }
        const decision = await this.board.waitForDecision(name, message, this.aborted);
        if (decision === 'skip') {
          this.board.set(name, 'skipped', 'skipped by an operator');
          return SKIPPED;
        }
        if (decision === undefined) throw err;
      }
    }
  }
}
