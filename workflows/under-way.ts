// What CI's start-and-wait update (releaseUnderWayUpdate) waits for: the release is under way once
// validate and preflight passed, and stopped when either failed or waits for an operator. Settles
// once; later events (a retried preflight that then passes) are for `release status`, not for this
// answer, which CI already acted on.
import { ApplicationFailure } from '@temporalio/workflow';
import type { ReleaseUnderWay } from '../src/contract/release';

export class UnderWayGate {
  private answer: ReleaseUnderWay | undefined;
  private refusal: { readonly type: string; readonly message: string } | undefined;

  get settled(): boolean {
    return this.answer !== undefined || this.refusal !== undefined;
  }

  open(answer: ReleaseUnderWay): void {
    if (!this.settled) this.answer = answer;
  }

  refuse(type: string | undefined, message: string): void {
    if (!this.settled) this.refusal = { type: type ?? 'ReleaseFailed', message };
  }

  /** The update's result, or the failure CI gets (non-retryable: the same request would fail again). */
  result(): ReleaseUnderWay {
    if (this.answer) return this.answer;
    const r = this.refusal ?? { type: 'ReleaseFailed', message: 'the release ended before it was under way' };
    throw ApplicationFailure.create({ type: r.type, message: r.message, nonRetryable: true });
  }
}
