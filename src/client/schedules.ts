// The schedule that runs republishLatest for one repository, kept in line with tagship.toml:
// `apply` creates it, or updates it when the cron or the config changed, or leaves it alone.
import { createHash } from 'node:crypto';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import type { TagshipConfig } from '../config/schema';
import { latestScheduleId, republishWorkflowId } from '../contract/workflow-ids';

export function scheduleId(config: TagshipConfig): string {
  return latestScheduleId(config);
}

function fingerprint(config: TagshipConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

function action(config: TagshipConfig, taskQueue: string) {
  return {
    type: 'startWorkflow' as const,
    workflowType: 'republishLatest',
    workflowId: republishWorkflowId(config),
    taskQueue,
    args: [{ config }],
    memo: { tagshipFingerprint: fingerprint(config), cron: config.schedule.republish_latest },
    staticSummary: `Re-point the moving tags (${config.images.tags.filter((t) => !t.includes('{version}')).join(', ') || 'none'}) of ${config.variants.map((v) => v.name).join(', ')} at the newest stable images`,
  };
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

export async function applySchedule(client: Client, config: TagshipConfig, taskQueue: string): Promise<ApplyOutcome> {
  const handle = client.schedule.getHandle(scheduleId(config));
  let current: ScheduleDescription | undefined;
  try {
    current = await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  const spec = { cronExpressions: [config.schedule.republish_latest] };
  if (!current) {
    await client.schedule.create({
      scheduleId: scheduleId(config),
      spec,
      action: action(config, taskQueue),
      // A run still going when the next is due is enough; never two at once.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
      state: { note: 'managed by tagship schedule apply' },
    });
    return 'created';
  }
  const memo = current.action.type === 'startWorkflow' ? current.action.memo : undefined;
  if (
    memo?.tagshipFingerprint === fingerprint(config) &&
    memo.cron === config.schedule.republish_latest &&
    current.action.type === 'startWorkflow' &&
    current.action.taskQueue === taskQueue
  ) {
    return 'unchanged';
  }
  await handle.update((prev) => ({ ...prev, spec, action: action(config, taskQueue) }));
  return 'updated';
}

export async function describeSchedule(client: Client, config: TagshipConfig): Promise<string> {
  let d: ScheduleDescription;
  try {
    d = await client.schedule.getHandle(scheduleId(config)).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new Error(`no schedule ${scheduleId(config)}: run 'tagship schedule apply' first`, { cause: err });
    throw err;
  }
  const memo = d.action.type === 'startWorkflow' ? d.action.memo : undefined;
  const lines = [
    `${d.scheduleId}  ${d.state.paused ? 'paused' : 'active'}${d.state.note ? ` (${d.state.note})` : ''}`,
    `  cron:     ${String(memo?.cron ?? '?')} (UTC)`,
    `  next:     ${
      d.info.nextActionTimes
        .slice(0, 3)
        .map((t) => t.toISOString())
        .join(', ') || '-'
    }`,
    `  recent:   ${
      d.info.recentActions
        .slice(-3)
        .map((a) => `${a.takenAt.toISOString()} ${a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : ''}`)
        .join('; ') || '-'
    }`,
    `  runs:     ${d.info.numActionsTaken} taken, ${d.info.numActionsSkippedOverlap} skipped (overlap)`,
  ];
  return lines.join('\n');
}
