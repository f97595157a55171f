// A release's live status for operators: the workflow's own step table (status query) merged with
// what only the server knows, namely which activities are being retried and why.
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { ReleaseStatus, StepState, StepStatus } from '../contract/release';
import { statusQuery } from '../contract/messages';
import { STEP_ICON as ICON } from '../contract/step-icons';

export interface LiveStatus extends ReleaseStatus {
  readonly workflowStatus: string;
}

export async function liveStatus(handle: WorkflowHandle): Promise<LiveStatus> {
  const [status, description] = await Promise.all([handle.query(statusQuery), handle.describe()]);
  const converter = handle.client.options.loadedDataConverter;
  const retrying = new Map<string, string>();
  for (const a of description.raw.pendingActivities ?? []) {
    if ((a.attempt ?? 1) <= 1 || !a.activityId) continue;
    const err = await decodeOptionalFailureToOptionalError(converter, a.lastFailure).catch(() => undefined);
    retrying.set(a.activityId, `attempt ${a.attempt}: ${err?.message ?? a.lastFailure?.message ?? ''}`.trim());
  }
  const steps: StepStatus[] = status.steps.map((s) =>
    s.state === 'running' && retrying.has(s.step) ? { step: s.step, state: 'retrying', note: retrying.get(s.step)! } : s,
  );
  return { ...status, steps, workflowStatus: description.status.name };
}

/** States whose note is a failure: the table shows its last lines, where a build's cause is. */
const FAILING: ReadonlySet<StepState> = new Set(['waiting-for-operator', 'failed', 'retrying']);

export function formatStatusTable(workflowId: string, s: LiveStatus): string {
  const width = Math.max(...s.steps.map((x) => x.step.length));
  const lines = [`${workflowId}  ${s.state}${s.workflowStatus !== 'RUNNING' ? ` (${s.workflowStatus.toLowerCase()})` : ''}`];
  for (const step of s.steps) {
    const [first, ...rest] = (step.note ?? '').split('\n');
    const note = first ? `  ${first.slice(0, 200)}` : '';
    lines.push(`  ${ICON[step.state]} ${step.step.padEnd(width)}  ${step.state.padEnd(20)}${note}`.trimEnd());
    if (FAILING.has(step.state)) lines.push(...indentedTail(rest));
  }
  return lines.join('\n');
}

/** The last lines of a failure message (a build's output), indented under its step. */
export function indentedTail(lines: readonly string[], n = 12): string[] {
  return lines
    .filter((l) => l.trim() !== '')
    .slice(-n)
    .map((l) => `      │ ${l.slice(0, 300)}`);
}

/** The validator's reason when an update was refused, else the error's message. */
export function updateErrorMessage(err: unknown): string {
  if (err instanceof WorkflowUpdateFailedError && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
