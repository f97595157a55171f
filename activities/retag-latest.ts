// The scheduled re-publish of moving tags: point every moving tag of a variant (each template, each
// family found in the registry) at the newest stable release of its family, by copying that
// release's manifest byte for byte (digest kept, nothing rebuilt). The target is always the
// family's newest stable version in the registry, so tags only ever move forward.
import { Context } from '@temporalio/activity';
import { compareVersions, parseVersion } from '../src/contract/version';
import type { WorkerSettings } from './lib/settings';
import { movingTagTargets, movingTemplates, overtaken, releaseManifest } from './lib/image-tags';
import { registryFor, withRegistryFailures, type Manifest } from './lib/registry-client';
import type { RetagLatestInput, RetagLatestResult, RetaggedTag } from '../src/contract/activities';

export async function retagLatest(settings: WorkerSettings, input: RetagLatestInput): Promise<RetagLatestResult> {
  const { config } = input;
  const { variant } = input;
  const client = registryFor(config.images, settings.registry);
  if (movingTemplates(config).length === 0) return { variant, outcome: 'none', reason: 'no moving tags in [images] tags', tags: [] };
  return withRegistryFailures(async () => {
    const targets = movingTagTargets(await client.listTags(), config, variant);
    if (targets.length === 0) return { variant, outcome: 'none', reason: `no stable ${variant} image in ${config.images.repository}`, tags: [] };
    const sources = new Map<string, Manifest>();
    const source = async (version: string): Promise<Manifest> => {
      let m = sources.get(version);
      if (!m) sources.set(version, (m = await releaseManifest(client, config, variant, version)));
      return m;
    };
    const results = new Map<string, RetaggedTag>();
    for (const t of targets) {
      const manifest = await source(t.version);
      const current = await client.getManifest(t.tag);
      if (current?.digest === manifest.digest) {
        results.set(t.tag, { tag: t.tag, outcome: 'unchanged', version: t.version, digest: manifest.digest, reason: `already ${t.version}, ${t.why}` });
        continue;
      }
      await client.putManifest(t.tag, manifest);
      Context.current().log.info('moved tag', { variant, tag: t.tag, version: t.version, digest: manifest.digest });
      results.set(t.tag, {
        tag: t.tag,
        outcome: 'moved',
        version: t.version,
        digest: manifest.digest,
        reason: `now ${t.version}, ${t.why}${current ? '' : ' (was missing)'}`,
      });
    }
    // A release started after the workflow checked for running ones may have moved a tag past
    // the copy just written; follow it rather than leave the tag behind.
    const written = targets.filter((t) => results.get(t.tag)?.outcome === 'moved');
    for (const o of await overtaken(client, config, variant, written)) {
      const manifest = await source(o.version);
      await client.putManifest(o.tag, manifest);
      results.set(o.tag, { tag: o.tag, outcome: 'moved', version: o.version, digest: manifest.digest, reason: `now ${o.version}, released while re-tagging` });
    }
    const tags = [...results.values()];
    const moved = tags.filter((t) => t.outcome === 'moved');
    const newest = tags.reduce((a, b) => (compareVersions(parseVersion(b.version)!, parseVersion(a.version)!) > 0 ? b : a));
    const reason =
      moved.length === 0
        ? `${tags.map((t) => t.tag).join(', ')} already right`
        : `moved ${moved.map((t) => `${t.tag} → ${t.version}`).join(', ')}${moved.length < tags.length ? `; ${tags.length - moved.length} already right` : ''}`;
    return { variant, outcome: moved.length > 0 ? 'moved' : 'unchanged', version: newest.version, digest: newest.digest, reason, tags };
  });
}
