// Version rules shared by the CLI, the validate activity and the -latest decision.
// Versions follow PEP 440's canonical public form restricted to three release components, which is
// what the seed's `v*.*.*` tag pattern and its "one shared version" rule allow. Only the canonical
// spelling is accepted: uv and the index normalise `01.0.0` to `1.0.0`, so a tag spelled otherwise
// would name files and a version that the build never produces.

// The shape alone; `versionProblem` adds the canonical-form rules with a reason for each.
const SHAPE_RE = /^(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$/;

/** Longest version accepted: it ends up in file names, image tags and workflow ids. */
export const MAX_VERSION_LENGTH = 64;
/** Most digits in one numeric component: keeps every component a safe integer. */
export const MAX_COMPONENT_DIGITS = 9;

export const VERSION_RULE = `canonical PEP 440 X.Y.Z (optionally aN, bN, rcN, .postN, .devN), no leading zeros, at most ${MAX_COMPONENT_DIGITS} digits per number and ${MAX_VERSION_LENGTH} characters`;

export interface ParsedVersion {
  readonly text: string;
  readonly release: readonly [number, number, number];
  readonly pre?: { readonly label: 'a' | 'b' | 'rc'; readonly n: number };
  readonly post?: number;
  readonly dev?: number;
}

/** Why `text` is not a version tagship releases, or undefined when it is one. */
export function versionProblem(text: string): string | undefined {
  if (text.length > MAX_VERSION_LENGTH) return `it is longer than ${MAX_VERSION_LENGTH} characters`;
  const m = SHAPE_RE.exec(text);
  if (!m) return 'it is not X.Y.Z';
  for (const n of m.slice(1)) {
    if (n === undefined || !/^\d/.test(n)) continue;
    if (n.length > MAX_COMPONENT_DIGITS) return `"${n}" has more than ${MAX_COMPONENT_DIGITS} digits`;
    if (n.length > 1 && n.startsWith('0')) return `"${n}" has a leading zero (PEP 440 spells it ${String(Number(n))})`;
  }
  return undefined;
}

export function parseVersion(text: string): ParsedVersion | undefined {
  if (versionProblem(text) !== undefined) return undefined;
  const m = SHAPE_RE.exec(text)!;
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const release = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
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
  if (!tag.startsWith('v')) return undefined;
  const version = tag.slice(1);
  return parseVersion(version) ? version : undefined;
}

/** The problem of a version that has the X.Y.Z shape but breaks a canonical-form rule. */
function canonicalProblem(version: string): string | undefined {
  return SHAPE_RE.test(version) ? versionProblem(version) : undefined;
}

// A 300-digit version is named by its start: the whole would bury the rule it breaks.
const shown = (text: string): string => (text.length > 80 ? `${text.slice(0, 80)}…` : text);

/** Why `version` cannot be released: the seed's words, or the canonical-form rule it breaks. */
export function invalidVersionMessage(version: string): string {
  const problem = canonicalProblem(version);
  if (problem !== undefined) return `invalid version "${shown(version)}": ${problem}; expected ${VERSION_RULE} (e.g. 1.0.18)`;
  return `invalid version "${version}": expected X.Y.Z (PEP 440, e.g. 1.0.18)`;
}

/** The seed's words for a tag that is not `v*.*.*`, or the canonical-form rule a `v*.*.*` tag breaks. */
export function badTagMessage(tag: string): string {
  const problem = tag.startsWith('v') ? canonicalProblem(tag.slice(1)) : undefined;
  if (problem !== undefined) return `ERROR: Tag '${shown(tag)}' is not a release tag: ${problem}; a tag is v + ${VERSION_RULE} (e.g. v1.0.18)`;
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
