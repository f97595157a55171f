// Runs one step of a release: marks it on the board, and when it fails after its retries, waits for
// an operator to retry or skip it (or for the release to be aborted). Validate and release-stopping
// failures never wait: a bad tag or mismatched versions fail the release at once, as in the seed.
import type { Duration } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { failure, RELEASE_STOPPERS } from '../src/contract/failures';
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

export interface StepRunnerOptions {
  /** How long a failed step waits for an operator; absent in releases started before the bound. */
  readonly operatorWait?: Duration;
  /** Told of each failure before the step stops the release or waits for an operator. */
  readonly onFailure?: (step: string, type: string | undefined, message: string) => void;
}

export class StepRunner {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly board: StepBoard,
    private readonly aborted: () => boolean,
    private readonly options: StepRunnerOptions = {},
  ) {}

  /** Resolves once every step's call has settled: after an abort, once each acknowledged its cancellation. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(call: Promise<T>): Promise<T> {
    this.inFlight.add(call);
    return call.finally(() => this.inFlight.delete(call));
  }

  async run<T>(name: string, call: () => Promise<T>): Promise<T | Skipped> {
    for (;;) {
      this.board.set(name, 'running');
      try {
        const result = await this.track(call());
        this.board.set(name, 'succeeded');
        return result;
      } catch (err) {
        if (isCancellation(err) || this.aborted()) throw err;
        const message = failureMessage(err);
        this.options.onFailure?.(name, failureType(err), message);
        if (name === VALIDATE_STEP || RELEASE_STOPPERS.has(failureType(err) ?? '')) {
          this.board.set(name, 'failed', message);
          throw err;
        }
        const bound = this.options.operatorWait;
        const decision = await this.board.waitForDecision(name, message, this.aborted, bound);
        if (decision === 'expired') {
          const expired = `${name} waited ${String(bound)} (timeouts.operator_wait) for an operator; the release stops: ${message}`;
          this.board.set(name, 'failed', expired);
          throw failure('OperatorWaitExpired', expired);
        }
        if (decision === 'skip') {
          this.board.set(name, 'skipped', 'skipped by an operator');
          return SKIPPED;
        }
        if (decision === undefined) throw err;
      }
    }
  }
}
