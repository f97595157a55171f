// What CI's start-and-wait update (releaseUnderWayUpdate) waits for: the release is under way once
// validate and preflight passed, and stopped when either failed or waits for an operator. A
// refusal is what a caller asking now hears; once an operator's retry or skip gets the release past
// preflight, a later caller (CI re-run to send a fresh OIDC token) hears that it is under way.
import { ApplicationFailure } from '@temporalio/workflow';
import type { ReleaseUnderWay } from '../src/contract/release';

export class UnderWayGate {
  private answer: ReleaseUnderWay | undefined;
  private refusal: { readonly type: string; readonly message: string } | undefined;

  get settled(): boolean {
    return this.answer !== undefined || this.refusal !== undefined;
  }

  open(answer: ReleaseUnderWay): void {
    if (this.answer !== undefined) return;
    this.refusal = undefined;
    this.answer = answer;
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
