// Image tags from `[images] tags`. Templates with {version} name one release and are never moved;
// the others are moving tags, each naming a family: every version that renders the same tag
// (`{major}.{minor}-{variant}` → all 1.0.x). A moving tag follows the newest STABLE version of
// its family and never moves backwards. The registry is the only record of what was released,
// so candidates are read back from its tag list through the first {version} template.
//
// Concurrent writers. Releases of one repository (and the scheduled re-publish) move the same
// tags with no lock: the registry offers no compare-and-set on a manifest PUT, and a PUT may land
// long after its writer listed the tags (a slow link, a registry having a bad minute). So every
// writer follows its PUTs of moving tags with a re-check (settleMovingTags): list the tags again,
// read each tag's digest, and where a tag is not on the newest stable version of its family in
// that list, copy that version's manifest onto it and re-check again (bounded).
//
// Why the last writer's re-check makes the end state right, whatever the interleaving. Let every
// writer finish its step, let P be the PUT that landed last on a tag T, by writer W, and N the
// newest stable version of T's family whose immutable tag is in the registry (immutable tags are
// pushed before any moving tag and never removed; reads see earlier writes). W re-checks after
// each of its PUTs, so it listed the tags (L) and read T after P landed, saw P's manifest (nothing
// landed after it), and since it made no later PUT on T, found T right for L. If L holds N, P is
// N's manifest. If not, N was pushed after L was read, so after P; N's release then listed a
// registry where N is the newest (its list follows its push) and read T after P: it either found
// N's manifest there, so P is N's manifest, or PUT N's manifest after P, which contradicts P being
// last. So T ends on N. A writer that runs out of rounds fails its step retryably (LatestMismatch)
// and its retry re-checks. Outside the argument: a PUT whose writer stopped waiting for the answer
// (a timeout) can still land later, unchecked; the scheduled re-publish puts such a tag right.
//
// Each writer reports what its own last re-check saw: a release says "moved" only when the tag
// was on its version then; otherwise it names the newer release the tag follows.
import type { TagshipConfig } from '../../src/config/schema';
import type { MovingTagDecision } from '../../src/contract/release';
import { compareVersions, isStable, parseVersion, type ParsedVersion } from '../../src/contract/version';
import type { Manifest, RegistryClient } from './registry-client';
import { failure } from '../../src/contract/failures';

/** The part of the config tags depend on; a whole TagshipConfig will do. */
export interface ImageTagsConfig {
  readonly images: Pick<TagshipConfig['images'], 'tags'>;
}

const PLACEHOLDER = /\{(version|major|minor|patch|variant)\}/g;
const RELEASE_PARTS = ['major', 'minor', 'patch'] as const;

function isImmutableTemplate(template: string): boolean {
  return template.includes('{version}');
}

export function immutableTemplates(config: ImageTagsConfig): string[] {
  return [...new Set(config.images.tags.filter(isImmutableTemplate))];
}

export function movingTemplates(config: ImageTagsConfig): string[] {
  return [...new Set(config.images.tags.filter((t) => !isImmutableTemplate(t)))];
}

/** Fills a template's placeholders; throws when it needs {major}/{minor}/{patch} of a non-version. */
export function renderTag(template: string, version: string, variant: string): string {
  let parsed: ParsedVersion | undefined;
  return template.replace(PLACEHOLDER, (_, name: string) => {
    if (name === 'version') return version;
    if (name === 'variant') return variant;
    parsed ??= parseVersion(version);
    if (!parsed) throw new TypeError(`"${version}" is not a version, so "${template}" cannot be rendered`);
    return String(parsed.release[RELEASE_PARTS.indexOf(name as (typeof RELEASE_PARTS)[number])]);
  });
}

/** The tags a release pushes and never moves, in config order; the first is the one versions are read from. */
export function immutableTags(config: ImageTagsConfig, variant: string, version: string): string[] {
  return [...new Set(immutableTemplates(config).map((t) => renderTag(t, version, variant)))];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Reads the version back out of a tag rendered from `template`, or undefined when it is not one. */
function versionReader(template: string, variant: string): (tag: string) => ParsedVersion | undefined {
  let seen = false;
  const source = template
    .split(/(\{(?:version|major|minor|patch|variant)\})/)
    .map((piece) => {
      switch (piece) {
        case '{version}':
          if (seen) return '\\k<v>';
          seen = true;
          return '(?<v>\\d[0-9a-z.]*)';
        case '{major}':
        case '{minor}':
        case '{patch}':
          return '\\d+';
        case '{variant}':
          return escapeRegExp(variant);
        default:
          return escapeRegExp(piece);
      }
    })
    .join('');
  const re = new RegExp(`^${source}$`);
  return (tag) => {
    const text = re.exec(tag)?.groups?.v;
    const parsed = text === undefined ? undefined : parseVersion(text);
    // The pattern cannot check that {major} etc. agree with {version}; rendering again can.
    return parsed && renderTag(template, parsed.text, variant) === tag ? parsed : undefined;
  };
}

function parsedInRegistry(tags: readonly string[], config: ImageTagsConfig, variant: string): ParsedVersion[] {
  const first = immutableTemplates(config)[0];
  if (first === undefined) return [];
  const read = versionReader(first, variant);
  return tags.flatMap((t) => read(t) ?? []).sort(compareVersions);
}

/** Every version (stable or not) of `variant` that has its first {version} tag among `tags`, oldest first. */
export function versionsInRegistry(tags: readonly string[], config: ImageTagsConfig, variant: string): string[] {
  return parsedInRegistry(tags, config, variant).map((v) => v.text);
}

/**
 * A moving tag that some release's immutable tag also renders to (`{major}.{minor}.{patch}-{variant}`
 * beside `{version}-{variant}` both give "1.0.18-core"): moving it would rewrite a release.
 */
function isSomeReleaseTag(tag: string, config: ImageTagsConfig, variant: string): boolean {
  return immutableTemplates(config).some((t) => versionReader(t, variant)(tag) !== undefined);
}

function newest(versions: readonly ParsedVersion[]): ParsedVersion | undefined {
  return versions.reduce<ParsedVersion | undefined>((best, v) => (best === undefined || compareVersions(v, best) > 0 ? v : best), undefined);
}

/** "1.0.x", "1.x", "1.0.18", or undefined for a family of every release. */
function familyLabel(template: string, version: ParsedVersion): string | undefined {
  const parts = RELEASE_PARTS.map((p, i) => (template.includes(`{${p}}`) ? String(version.release[i]) : 'x'));
  while (parts.length > 1 && parts.at(-1) === 'x' && parts.at(-2) === 'x') parts.pop();
  return parts.every((p) => p === 'x') ? undefined : parts.join('.');
}

function unstableKind(v: ParsedVersion): string | undefined {
  if (v.pre) return 'pre-release';
  if (v.dev !== undefined) return 'dev release';
  return undefined;
}

function stableFamily(registry: readonly ParsedVersion[], template: string, variant: string, tag: string): ParsedVersion[] {
  return registry.filter((v) => isStable(v) && renderTag(template, v.text, variant) === tag);
}

/** The newest stable version among `existingTags` whose tag for moving `template` is `version`'s. */
export function newestInFamily(
  existingTags: readonly string[],
  config: ImageTagsConfig,
  variant: string,
  template: string,
  version: string,
): string | undefined {
  const tag = renderTag(template, version, variant);
  return newest(stableFamily(parsedInRegistry(existingTags, config, variant), template, variant, tag))?.text;
}

interface TemplateDecision extends MovingTagDecision {
  readonly template: string;
}

function decide(existingTags: readonly string[], config: ImageTagsConfig, variant: string, version: string): TemplateDecision[] {
  const parsed = parseVersion(version);
  if (!parsed) throw new TypeError(`"${version}" is not a version`);
  const registry = parsedInRegistry(existingTags, config, variant);
  const seen = new Set<string>();
  const decisions: TemplateDecision[] = [];
  for (const template of movingTemplates(config)) {
    const tag = renderTag(template, version, variant);
    if (seen.has(tag)) continue;
    seen.add(tag);
    const label = familyLabel(template, parsed);
    const kind = unstableKind(parsed);
    let moved = false;
    let reason: string;
    if (isSomeReleaseTag(tag, config, variant)) {
      reason = `${tag} is also a release's own tag; it is never moved`;
    } else if (kind) {
      reason = `${version} is a ${kind}; ${tag} only follows stable releases`;
    } else {
      // This release's own tag is in the list (it was pushed first); only the others can outrank it.
      const other = newest(stableFamily(registry, template, variant, tag).filter((v) => compareVersions(v, parsed) !== 0));
      moved = other === undefined || compareVersions(parsed, other) > 0;
      if (other === undefined) reason = `first stable ${label ? `${label} ` : ''}release of ${variant}`;
      else if (moved) reason = `${version} is the newest stable ${label ?? 'release'}`;
      else reason = `${other.text} is newer; ${tag} never moves backwards`;
    }
    decisions.push({ template, tag, moved, reason });
  }
  return decisions;
}

/** For every moving tag of this release: whether it moves to `version`, given the registry's tags. */
export function decideMovingTags(existingTags: readonly string[], config: ImageTagsConfig, variant: string, version: string): MovingTagDecision[] {
  return decide(existingTags, config, variant, version).map(({ tag, moved, reason }) => ({ tag, moved, reason }));
}

export interface MovingTagTarget {
  readonly template: string;
  readonly tag: string;
  /** The newest stable version of the tag's family in the registry. */
  readonly version: string;
  /** e.g. "the newest stable 1.0.x". */
  readonly why: string;
}

/** Where every moving tag with a stable release in the registry belongs: one per template and family. */
export function movingTagTargets(existingTags: readonly string[], config: ImageTagsConfig, variant: string): MovingTagTarget[] {
  const stable = parsedInRegistry(existingTags, config, variant).filter(isStable);
  const targets = new Map<string, MovingTagTarget>();
  for (const template of movingTemplates(config)) {
    // Ascending order, so the last version seen per tag is the family's newest.
    const byTag = new Map<string, ParsedVersion>();
    for (const v of stable) byTag.set(renderTag(template, v.text, variant), v);
    for (const [tag, v] of byTag) {
      if (targets.has(tag) || isSomeReleaseTag(tag, config, variant)) continue;
      targets.set(tag, { template, tag, version: v.text, why: `the newest stable ${familyLabel(template, v) ?? 'release'}` });
    }
  }
  return [...targets.values()];
}

/** The manifest of `version`'s first immutable tag, which every copy of it is taken from. */
export async function releaseManifest(client: RegistryClient, config: ImageTagsConfig, variant: string, version: string): Promise<Manifest> {
  const tag = immutableTags(config, variant, version)[0]!;
  const manifest = await client.getManifest(tag);
  if (!manifest) throw failure('ImageNotFound', `${tag} vanished from the registry while moving tags`);
  return manifest;
}

/** Rounds of re-checks after one's own PUTs before giving up; each lists once, reads every tag, PUTs the wrong ones. */
export const SETTLE_ROUNDS = 6;

/** A moving tag to settle: rendered from `template` for the family `version` belongs to. */
export interface MovingTagToSettle {
  readonly template: string;
  readonly tag: string;
  readonly version: string;
}

/** Where one moving tag ended, as its writer's last re-check saw it. */
export interface SettledTag {
  readonly tag: string;
  /** The newest stable version of the tag's family in the last list read; the tag was on its manifest. */
  readonly version: string;
  readonly digest: string;
  /** The tag's digest before this writer's first PUT (undefined: the tag did not exist). */
  readonly before: string | undefined;
  /** How many PUTs this writer made on it; 0 when it was already right. */
  readonly puts: number;
}

/**
 * Puts each moving tag on the newest stable version of its family and re-checks after the PUTs,
 * round by round, until one round (one list, then every tag read) finds them all right: the rule
 * the header argues for. The last round is one look at the end, so what it returns is where the
 * tags were when this writer finished. `tags` is a list already read (after this writer's own
 * immutable push) for the first round; `manifests` caches sources by version (pass a release's
 * just-pushed manifest under its version). Throws a retryable `LatestMismatch` when a tag still is
 * not right after SETTLE_ROUNDS rounds of PUTs. Registry errors propagate (wrap in
 * withRegistryFailures).
 */
export async function settleMovingTags(
  client: RegistryClient,
  config: ImageTagsConfig,
  variant: string,
  targets: readonly MovingTagToSettle[],
  opts: { readonly tags?: readonly string[]; readonly manifests?: Map<string, Manifest> } = {},
): Promise<SettledTag[]> {
  const manifests = opts.manifests ?? new Map<string, Manifest>();
  const before = new Map<string, string | undefined>();
  const puts = new Map<string, number>(targets.map((t) => [t.tag, 0]));
  let tags = opts.tags;
  for (let round = 0; ; round++) {
    tags ??= await client.listTags();
    const settled: SettledTag[] = [];
    const wrong: { tag: string; source: Manifest; version: string; current: string | undefined }[] = [];
    for (const t of targets) {
      const newest = newestInFamily(tags, config, variant, t.template, t.version);
      if (newest === undefined) throw failure('ImageNotFound', `no stable release of ${t.tag}'s family is in the registry any more`);
      let source = manifests.get(newest);
      if (!source) manifests.set(newest, (source = await releaseManifest(client, config, variant, newest)));
      const current = (await client.getManifest(t.tag))?.digest;
      if (!before.has(t.tag)) before.set(t.tag, current);
      if (current === source.digest) settled.push({ tag: t.tag, version: newest, digest: source.digest, before: before.get(t.tag), puts: puts.get(t.tag)! });
      else wrong.push({ tag: t.tag, source, version: newest, current });
    }
    if (wrong.length === 0) return settled;
    if (round === SETTLE_ROUNDS) {
      const w = wrong[0]!;
      throw failure('LatestMismatch', `${w.tag} reads back as ${w.current ?? 'missing'} after ${round} re-points, expected ${w.version} (${w.source.digest})`);
    }
    for (const w of wrong) {
      await client.putManifest(w.tag, w.source);
      puts.set(w.tag, puts.get(w.tag)! + 1);
    }
    tags = undefined;
  }
}

/**
 * Moves this release's moving tags to `pushed` (its just-pushed, verified manifest) where it is the
 * newest stable version of the tag's family, settles each one it moves (settleMovingTag), and
 * returns why each did or did not end on this release. Lists the tags after the push, so a release
 * that finished earlier is seen. Registry errors propagate (wrap in withRegistryFailures).
 */
export async function moveTags(
  client: RegistryClient,
  config: ImageTagsConfig,
  variant: string,
  version: string,
  pushed: Manifest,
): Promise<MovingTagDecision[]> {
  const tags = await client.listTags();
  const decisions = decide(tags, config, variant, version);
  const moving = decisions.filter((d) => d.moved).map((d) => ({ template: d.template, tag: d.tag, version }));
  const settled = new Map(
    moving.length === 0
      ? []
      : (await settleMovingTags(client, config, variant, moving, { tags, manifests: new Map([[version, pushed]]) })).map((s) => [s.tag, s]),
  );
  return decisions.map(({ tag, moved, reason }) => {
    const ended = settled.get(tag)?.version;
    return ended === undefined || ended === version
      ? { tag, moved, reason }
      : { tag, moved: false, reason: `${ended} was released meanwhile; ${tag} follows it` };
  });
}
