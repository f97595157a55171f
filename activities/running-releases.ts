// Which releases of a repository are running now (Temporal's visibility), and which of their image
// steps are still ahead of them (each one's status query), so the scheduled re-publish of moving
// tags stays out of the way of exactly the variants a running release will still move itself.
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import type { RunningRelease, RunningReleasesInput } from '../src/contract/activities';
import { statusQuery } from '../src/contract/messages';
import { compareVersions, parseVersion } from '../src/contract/version';
import { repositorySlug } from '../src/contract/workflow-ids';

/** How long one release's status query may take before it counts as unreadable. */
const QUERY_DEADLINE_MS = 20_000;

const IMAGE_STEP = /^image:(.+)$/;

// The answer comes from another workflow's code (possibly an older build of it): read only what is used.
const statusAnswer = z.object({
  state: z.enum(['running', 'waiting-for-operator', 'succeeded', 'failed']),
  steps: z.array(z.object({ step: z.string(), state: z.enum(['pending', 'running', 'retrying', 'waiting-for-operator', 'succeeded', 'skipped', 'failed']) })),
});

/** The running `release` workflows of this repository with a version in their id, oldest version first. */
async function listRunning(input: RunningReleasesInput): Promise<{ version: string; workflowId: string; runId: string }[]> {
  const repo = repositorySlug(input.config).replace(/'/g, '');
  const found: { version: string; workflowId: string; runId: string }[] = [];
  for await (const wf of Context.current().client.workflow.list({
    query: `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND TagshipRepo = '${repo}'`,
  })) {
    const m = /\/v([^/]+)$/.exec(wf.workflowId);
    if (m && parseVersion(m[1]!)) found.push({ version: m[1]!, workflowId: wf.workflowId, runId: wf.runId });
  }
  return found.sort((a, b) => compareVersions(parseVersion(a.version)!, parseVersion(b.version)!));
}

/** Versions of this repository's releases that are running now (from Temporal's visibility). */
export async function runningReleaseVersions(input: RunningReleasesInput): Promise<string[]> {
  return (await listRunning(input)).map((r) => r.version);
}

/** This repository's running releases, each with the image steps it has not finished yet. */
export async function runningReleases(input: RunningReleasesInput): Promise<RunningRelease[]> {
  const ctx = Context.current();
  const { client } = ctx;
  const releases: RunningRelease[] = [];
  for (const r of await listRunning(input)) {
    try {
      const answer = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => client.workflow.getHandle(r.workflowId, r.runId).query(statusQuery));
      const status = statusAnswer.parse(answer);
      const pendingImages = status.steps.flatMap((s) => {
        const variant = IMAGE_STEP.exec(s.step)?.[1];
        return variant !== undefined && s.state !== 'succeeded' && s.state !== 'skipped' ? [{ variant, state: s.state }] : [];
      });
      releases.push({ version: r.version, workflowId: r.workflowId, state: status.state, pendingImages });
    } catch (err) {
      // Not knowing which variants it still moves, treat it as moving all of them.
      ctx.log.warn('cannot read the status of a running release; every variant counts as its own', { workflowId: r.workflowId, error: (err as Error).message });
      releases.push({ version: r.version, workflowId: r.workflowId });
    }
  }
  return releases;
}
