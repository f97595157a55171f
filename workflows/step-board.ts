// The release's steps and their states, kept by the workflow: answered by the `status` query,
// shown live in the UI as a markdown table (current details), mirrored into the TagshipStatus
// search attribute. Operator decisions (retry/skip) arrive here and wake the waiting step.
import type { Duration } from '@temporalio/common';
import { condition, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ReleaseStatus, StepState, StepStatus } from '../src/contract/release';
import { TAGSHIP_STATUS } from '../src/contract/search-attributes';
import { isUnskippable } from '../src/contract/steps';
import { statusMarkdown } from './status-markdown';

export type Decision = 'retry' | 'skip';

export class StepBoard {
  private readonly steps = new Map<string, StepStatus>();
  private readonly decisions = new Map<string, Decision>();
  private version: string | undefined;
  private outcome: 'succeeded' | 'failed' | undefined;
  private readonly trackStatus: boolean;
  private lastStatus: string | undefined;

  constructor(
    private readonly tag: string,
    names: readonly string[],
  ) {
    for (const step of names) this.steps.set(step, { step, state: 'pending' });
    // Upsert only when the release was started with tagship's search attributes (so the namespace has them).
    this.trackStatus = workflowInfo().typedSearchAttributes.get(TAGSHIP_STATUS) !== undefined;
  }

  setVersion(version: string): void {
    this.version = version;
  }

  set(step: string, state: StepState, note?: string): void {
    this.steps.set(step, { step, state, ...(note ? { note } : {}) });
    this.publish();
  }

  has(step: string): boolean {
    return this.steps.has(step);
  }

  state(step: string): StepState | undefined {
    return this.steps.get(step)?.state;
  }

  finish(outcome: 'succeeded' | 'failed'): void {
    this.outcome = outcome;
    this.publish();
  }

  /** Throws (rejecting the update) unless `step` waits for an operator and may take `decision`. */
  validateDecision(step: string, decision: Decision): void {
    const s = this.steps.get(step);
    if (!s) throw new Error(`no step "${step}" in this release; steps: ${[...this.steps.keys()].join(', ')}`);
    if (decision === 'skip' && isUnskippable(step)) throw new Error(`step ${step} cannot be skipped`);
    if (s.state !== 'waiting-for-operator') throw new Error(`step ${step} is ${s.state}, not waiting for an operator`);
  }

  decide(step: string, decision: Decision): string {
    this.validateDecision(step, decision);
    this.decisions.set(step, decision);
    return `${step}: ${decision} accepted`;
  }

  /**
   * Waits until an operator decides what `step` does next, `cancelled` becomes true (undefined), or
   * `bound` passes ('expired'). Without a bound it waits for ever, as releases started before
   * timeouts.operator_wait did: a timer they never recorded must not appear on replay.
   */
  async waitForDecision(step: string, note: string, cancelled: () => boolean, bound?: Duration): Promise<Decision | 'expired' | undefined> {
    this.decisions.delete(step);
    this.set(step, 'waiting-for-operator', note);
    const woken = () => this.decisions.has(step) || cancelled();
    if (bound === undefined) await condition(woken);
    else if (!(await condition(woken, bound))) return 'expired';
    const d = this.decisions.get(step);
    this.decisions.delete(step);
    return d;
  }

  status(): ReleaseStatus {
    const steps = [...this.steps.values()];
    const state = this.outcome ?? (steps.some((s) => s.state === 'waiting-for-operator') ? 'waiting-for-operator' : 'running');
    return { tag: this.tag, ...(this.version ? { version: this.version } : {}), state, steps };
  }

  private publish(): void {
    setCurrentDetails(statusMarkdown(this.status()));
    const state = this.status().state;
    // One upsert per change of overall state, not per step: each is a history event.
    if (this.trackStatus && state !== this.lastStatus) upsertSearchAttributes([{ key: TAGSHIP_STATUS, value: state }]);
    this.lastStatus = state;
  }
}
