// The scheduled re-publish of `<variant>-latest`: point it at the newest stable
// `<version>-<variant>` already in the registry, by copying that manifest byte for byte (digest
// kept, nothing rebuilt). It only ever moves forward: the target is the newest stable version.
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { TagshipConfig } from '../src/config';
import type { WorkerSettings } from '../src/worker-settings';
import { compareVersions, parseVersion } from '../src/version';
import { latestTag, newestStableVersion, versionedTag } from './latest-tag';
import { registryFor, withRegistryFailures } from './registry-client';

export interface RetagLatestInput {
  readonly config: TagshipConfig;
  readonly variant: string;
}

export interface RetagLatestResult {
  readonly variant: string;
  readonly outcome: 'moved' | 'unchanged' | 'none';
  readonly version?: string;
  readonly digest?: string;
  readonly reason: string;
}

export async function retagLatest(settings: WorkerSettings, input: RetagLatestInput): Promise<RetagLatestResult> {
  const client = registryFor(input.config.images, settings.registry);
  return withRegistryFailures(async () => {
    const tags = await client.listTags();
    const newest = newestStableVersion(tags, input.variant);
    if (!newest) return { variant: input.variant, outcome: 'none', reason: `no stable ${input.variant} image in ${input.config.images.repository}` };
    const source = await client.getManifest(versionedTag(newest, input.variant));
    if (!source) throw ApplicationFailure.retryable(`${versionedTag(newest, input.variant)} vanished while re-tagging`, 'ImageNotFound');
    const current = await client.getManifest(latestTag(input.variant));
    if (current?.digest === source.digest) {
      return { variant: input.variant, outcome: 'unchanged', version: newest, digest: source.digest, reason: `${latestTag(input.variant)} already is ${newest}` };
    }
    await client.putManifest(latestTag(input.variant), source);
    Context.current().log.info('moved -latest', { variant: input.variant, version: newest, digest: source.digest });
    return { variant: input.variant, outcome: 'moved', version: newest, digest: source.digest, reason: `${latestTag(input.variant)} now points at ${newest}` };
  });
}

/** Versions of this repository's releases that are running now (from Temporal's visibility). */
export async function runningReleaseVersions(input: { config: TagshipConfig }): Promise<string[]> {
  const repo = `${input.config.repository.owner}/${input.config.repository.name}`.replace(/'/g, '');
  const versions: string[] = [];
  for await (const wf of Context.current().client.workflow.list({ query: `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND TagshipRepo = '${repo}'` })) {
    const m = /\/v([^/]+)$/.exec(wf.workflowId);
    if (m && parseVersion(m[1]!)) versions.push(m[1]!);
  }
  return versions.sort((a, b) => compareVersions(parseVersion(a)!, parseVersion(b)!));
}
