// The scheduled re-publish of moving tags: point every moving tag of a variant (each template, each
// family found in the registry) at the newest stable release of its family, by copying that
// release's manifest byte for byte (digest kept, nothing rebuilt). The target is always the
// family's newest stable version in the registry, so tags only ever move forward; the tags are
// settled with the same re-check a release uses (settleMovingTags), so a release that finishes
// while this runs is followed, never undone.
import { Context } from '@temporalio/activity';
import { compareVersions, parseVersion } from '../src/contract/version';
import type { WorkerSettings } from './lib/settings';
import { movingTagTargets, movingTemplates, settleMovingTags } from './lib/image-tags';
import { registryFor, withRegistryFailures } from './lib/registry-client';
import type { RetagLatestInput, RetagLatestResult, RetaggedTag } from '../src/contract/activities';

export async function retagLatest(settings: WorkerSettings, input: RetagLatestInput): Promise<RetagLatestResult> {
  const { config } = input;
  const { variant } = input;
  const client = registryFor(config.images, settings.registry);
  if (movingTemplates(config).length === 0) return { variant, outcome: 'none', reason: 'no moving tags in [images] tags', tags: [] };
  return withRegistryFailures(async () => {
    const listed = await client.listTags();
    const targets = movingTagTargets(listed, config, variant);
    if (targets.length === 0) return { variant, outcome: 'none', reason: `no stable ${variant} image in ${config.images.repository}`, tags: [] };
    const settled = new Map((await settleMovingTags(client, config, variant, targets, { tags: listed })).map((s) => [s.tag, s]));
    const tags: RetaggedTag[] = [];
    for (const t of targets) {
      const { version, digest, before, puts } = settled.get(t.tag)!;
      if (puts === 0) {
        tags.push({ tag: t.tag, outcome: 'unchanged', version, digest, reason: `already ${version}, ${t.why}` });
        continue;
      }
      Context.current().log.info('moved tag', { variant, tag: t.tag, version, digest });
      const reason =
        version === t.version ? `now ${version}, ${t.why}${before === undefined ? ' (was missing)' : ''}` : `now ${version}, released while re-tagging`;
      tags.push({ tag: t.tag, outcome: 'moved', version, digest, reason });
    }
    const moved = tags.filter((t) => t.outcome === 'moved');
    const newest = tags.reduce((a, b) => (compareVersions(parseVersion(b.version)!, parseVersion(a.version)!) > 0 ? b : a));
    const reason =
      moved.length === 0
        ? `${tags.map((t) => t.tag).join(', ')} already right`
        : `moved ${moved.map((t) => `${t.tag} → ${t.version}`).join(', ')}${moved.length < tags.length ? `; ${tags.length - moved.length} already right` : ''}`;
    return { variant, outcome: moved.length > 0 ? 'moved' : 'unchanged', version: newest.version, digest: newest.digest, reason, tags };
  });
}
