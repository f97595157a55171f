// Which releases of a repository are running now (Temporal's visibility), so the scheduled -latest
// re-publish never races a stable release that moves its tags itself.
import { Context } from '@temporalio/activity';
import type { RunningReleasesInput } from '../src/contract/activities';
import { compareVersions, parseVersion } from '../src/contract/version';
import { repositorySlug } from '../src/contract/workflow-ids';

/** Versions of this repository's releases that are running now (from Temporal's visibility). */
export async function runningReleaseVersions(input: RunningReleasesInput): Promise<string[]> {
  const repo = repositorySlug(input.config).replace(/'/g, '');
  const versions: string[] = [];
  for await (const wf of Context.current().client.workflow.list({
    query: `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND TagshipRepo = '${repo}'`,
  })) {
    const m = /\/v([^/]+)$/.exec(wf.workflowId);
    if (m && parseVersion(m[1]!)) versions.push(m[1]!);
  }
  return versions.sort((a, b) => compareVersions(parseVersion(a)!, parseVersion(b)!));
}
