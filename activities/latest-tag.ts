// Whether `<variant>-latest` may point at a release: only a stable version, and only when no
// newer stable `<version>-<variant>` is already in the registry. -latest never moves backwards.
import { compareVersions, isStable, parseVersion } from '../src/version';

export interface LatestDecision {
  readonly moved: boolean;
  readonly reason: string;
}

export function versionedTag(version: string, variant: string): string {
  return `${version}-${variant}`;
}

export function latestTag(variant: string): string {
  return `${variant}-latest`;
}

/** The newest stable version that has a `<version>-<variant>` tag among `tags`. */
export function newestStableVersion(tags: readonly string[], variant: string): string | undefined {
  const suffix = `-${variant}`;
  let best: ReturnType<typeof parseVersion>;
  for (const tag of tags) {
    if (!tag.endsWith(suffix)) continue;
    const v = parseVersion(tag.slice(0, -suffix.length));
    if (!v || !isStable(v)) continue;
    if (!best || compareVersions(v, best) > 0) best = v;
  }
  return best?.text;
}

export function decideLatest(existingTags: readonly string[], variant: string, version: string): LatestDecision {
  const parsed = parseVersion(version);
  if (!parsed) return { moved: false, reason: `${version} is not a version` };
  if (!isStable(parsed)) return { moved: false, reason: `${version} is a pre-release; ${latestTag(variant)} only follows stable releases` };
  const newest = newestStableVersion(existingTags, variant);
  if (newest === undefined) return { moved: true, reason: `first stable release of ${variant}` };
  const newestParsed = parseVersion(newest)!;
  const order = compareVersions(parsed, newestParsed);
  if (order < 0) return { moved: false, reason: `${newest} is newer; ${latestTag(variant)} never moves backwards` };
  if (order === 0) return { moved: true, reason: `${version} is the newest stable release` };
  return { moved: true, reason: `${version} is newer than ${newest}` };
}
