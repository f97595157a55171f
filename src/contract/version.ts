// Version rules shared by the CLI, the validate activity and the -latest decision.
// Versions follow PEP 440's public form restricted to three release components, which is what the
// seed's `v*.*.*` tag pattern and its "one shared version" rule allow.

const VERSION_RE = /^(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$/;
const TAG_RE = /^v(\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?)$/;

export interface ParsedVersion {
  readonly text: string;
  readonly release: readonly [number, number, number];
  readonly pre?: { readonly label: 'a' | 'b' | 'rc'; readonly n: number };
  readonly post?: number;
  readonly dev?: number;
}

export function parseVersion(text: string): ParsedVersion | undefined {
  const m = VERSION_RE.exec(text);
  if (!m) return undefined;
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const release = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  if (release.some((n) => !Number.isSafeInteger(n))) return undefined;
  return {
    text,
    release,
    ...(m[4] ? { pre: { label: m[4] as 'a' | 'b' | 'rc', n: Number(m[5]) } } : {}),
    ...(m[6] !== undefined ? { post: num(m[6]) } : {}),
    ...(m[7] !== undefined ? { dev: num(m[7]) } : {}),
  };
}

export function isValidVersion(text: string): boolean {
  return parseVersion(text) !== undefined;
}

/** A stable version has no pre-release and no dev part; only those may move `<variant>-latest`. */
export function isStable(v: ParsedVersion): boolean {
  return v.pre === undefined && v.dev === undefined;
}

/** The version a `v*.*.*` tag names, or undefined when the tag does not have that shape. */
export function versionFromTag(tag: string): string | undefined {
  const m = TAG_RE.exec(tag);
  return m ? m[1] : undefined;
}

/** Why `version` cannot be released. */
export function invalidVersionMessage(version: string): string {
  return `invalid version "${version}": expected X.Y.Z (PEP 440, e.g. 1.0.18)`;
}

/** The seed's words for a tag that is not `v*.*.*`. */
export function badTagMessage(tag: string): string {
  return `ERROR: Tag '${tag}' does not match v*.*.* (e.g. v1.0.18)`;
}

export function tagForVersion(version: string): string {
  return `v${version}`;
}

const PRE_ORDER = { a: 0, b: 1, rc: 2 } as const;

/** PEP 440 ordering for the subset above: dev < pre < final < post. */
export function compareVersions(a: ParsedVersion, b: ParsedVersion): number {
  for (let i = 0; i < 3; i++) {
    const d = a.release[i]! - b.release[i]!;
    if (d !== 0) return Math.sign(d);
  }
  const key = (v: ParsedVersion): number[] => {
    // A bare dev release (1.0.0.dev1) sorts before any pre-release of the same release.
    const preKey = v.pre ? [PRE_ORDER[v.pre.label], v.pre.n] : v.dev !== undefined && v.post === undefined ? [-1, 0] : [3, 0];
    const postKey = v.post === undefined ? -1 : v.post;
    const devKey = v.dev === undefined ? Number.POSITIVE_INFINITY : v.dev;
    return [...preKey, postKey, devKey];
  };
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return Math.sign(ka[i]! - kb[i]!);
  }
  return 0;
}

/** PEP 503 normalised project name: what the Simple API and file names use. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
