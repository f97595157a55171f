// Reading and setting the static `version` of a pyproject.toml's [project] table. TOML is parsed
// to know the truth, but the rewrite is textual and touches only that one value, so comments,
// quoting, key order and line endings stay byte-identical (a release commit diff of one line).
import { isDeepStrictEqual } from 'node:util';
import TOML from '@iarna/toml';

export class PyprojectError extends Error {
  override name = 'PyprojectError';
}

/** How a package with `dynamic = ["version"]` gets its version. */
export interface DynamicVersion {
  /** True when the build backend takes the version from the git tag (setuptools-scm, hatch-vcs, …). */
  readonly fromTag: boolean;
  /** The mechanism, for messages: "setuptools-scm", "hatch-vcs", "setuptools attr", … */
  readonly backend: string;
}

/** [project] name as written (not normalised; undefined when absent), and either its static version or how it is computed. */
export type ProjectInfo =
  | { readonly name: string | undefined; readonly version: string; readonly dynamic?: undefined }
  | { readonly name: string | undefined; readonly version?: undefined; readonly dynamic: DynamicVersion };

interface Located {
  readonly name: string | undefined;
  readonly version: string;
  /** Offset of the value's opening quote. */
  readonly start: number;
  /** Offset just past the closing quote. */
  readonly end: number;
  readonly quote: '"' | "'";
}

// `version = "…"` (or 'literal') at the start of a line. Escapes are excluded so the text between
// the quotes is the value itself; anything fancier is refused rather than rewritten.
const VERSION_KEY = /^([ \t]*(?:project[ \t]*\.[ \t]*)?(?:version|"version"|'version')[ \t]*=[ \t]*)(?:"([^"\\\r\n]*)"|'([^'\r\n]*)')/gm;

// What setProjectVersion may write between quotes without escaping: PEP 440's alphabet.
const SAFE_VERSION = /^[A-Za-z0-9.+!_-]+$/;

function parseToml(text: string, file: string): TOML.JsonMap {
  try {
    return TOML.parse(text);
  } catch (err) {
    const e = err as { line?: number; col?: number; message: string };
    const where = typeof e.line === 'number' ? `:${e.line + 1}:${(e.col ?? 0) + 1}` : '';
    throw new PyprojectError(`${file}${where}: invalid TOML: ${e.message.split('\n')[0]}`);
  }
}

function projectTable(doc: TOML.JsonMap, file: string): TOML.JsonMap {
  const project = doc.project;
  if (project === undefined || project === null || typeof project !== 'object' || Array.isArray(project) || project instanceof Date) {
    throw new PyprojectError(`${file}: no [project] table; tagship reads and sets the version in [project]`);
  }
  return project;
}

function table(value: unknown): TOML.JsonMap | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) ? (value as TOML.JsonMap) : undefined;
}

// Build requirements that derive the version from git tags, by their PEP 503 name.
const VCS_REQUIREMENTS = ['setuptools-scm', 'hatch-vcs', 'uv-dynamic-versioning', 'versioningit', 'poetry-dynamic-versioning', 'dunamai'];

/**
 * Where a dynamic version comes from, read from the backend's own configuration. Only a version
 * derived from the git tag can be released from a tag without editing files; any other dynamic
 * version (an `__version__` attribute, a version file) is accepted too and proven after the build.
 */
export function dynamicVersionSource(doc: TOML.JsonMap): DynamicVersion {
  const tool = table(doc.tool) ?? {};
  const hatch = table(table(tool.hatch)?.version);
  if (hatch) {
    const source = typeof hatch.source === 'string' ? hatch.source : 'regex';
    if (source === 'vcs') return { fromTag: true, backend: 'hatch-vcs' };
    if (source === 'uv-dynamic-versioning' || source === 'versioningit') return { fromTag: true, backend: source };
    return { fromTag: false, backend: `hatch (${typeof hatch.path === 'string' ? hatch.path : source})` };
  }
  const pdm = table(table(tool.pdm)?.version);
  if (pdm)
    return pdm.source === 'scm'
      ? { fromTag: true, backend: 'pdm-backend (scm)' }
      : { fromTag: false, backend: `pdm-backend (${String(pdm.source ?? 'file')})` };
  const setuptoolsDynamic = table(table(table(tool.setuptools)?.dynamic)?.version);
  if (setuptoolsDynamic) return { fromTag: false, backend: `setuptools (${Object.keys(setuptoolsDynamic).join(', ')})` };
  if (table(tool.setuptools_scm) || table(tool['setuptools-scm'])) return { fromTag: true, backend: 'setuptools-scm' };
  if (table(tool.versioningit)) return { fromTag: true, backend: 'versioningit' };
  if (table(tool['poetry-dynamic-versioning'])) return { fromTag: true, backend: 'poetry-dynamic-versioning' };
  const requires = table(doc['build-system'])?.requires;
  const names = (Array.isArray(requires) ? requires : []).map(
    (r) =>
      String(r)
        .toLowerCase()
        .match(/^[a-z0-9._-]+/)?.[0]
        ?.replace(/[-_.]+/g, '-') ?? '',
  );
  const vcs = VCS_REQUIREMENTS.find((n) => names.includes(n));
  if (vcs) return { fromTag: true, backend: vcs };
  const backend = table(doc['build-system'])?.['build-backend'];
  return { fromTag: false, backend: typeof backend === 'string' ? backend : 'the build backend' };
}

function isDynamicVersion(project: TOML.JsonMap): boolean {
  return Array.isArray(project.dynamic) && (project.dynamic as unknown[]).includes('version');
}

function splice(text: string, at: { start: number; end: number; quote: string }, version: string): string {
  return `${text.slice(0, at.start)}${at.quote}${version}${at.quote}${text.slice(at.end)}`;
}

/**
 * A line that merely looks right may sit in another table ([tool.poetry] version = …), inside a
 * multi-line string, or under an unusual header spelling. Instead of re-implementing TOML's
 * grammar, each candidate is proven by rewriting it to a probe value and parsing again: it is the
 * [project] version exactly when that changes [project] version and nothing else in the document.
 */
function locate(text: string, file: string): Located {
  const doc = parseToml(text, file);
  const project = projectTable(doc, file);
  if (isDynamicVersion(project)) {
    const { backend } = dynamicVersionSource(doc);
    throw new PyprojectError(`${file}: [project] version is dynamic (dynamic = ["version"], ${backend}); it has no version line to set`);
  }
  const version = project.version;
  if (version === undefined) throw new PyprojectError(`${file}: [project] has no version; add version = "X.Y.Z"`);
  if (typeof version !== 'string') {
    throw new PyprojectError(`${file}: [project] version must be a string like "1.0.18"`);
  }
  const name = typeof project.name === 'string' ? project.name : undefined;
  const probe = version === '0.0.0' ? '0.0.1' : '0.0.0';
  for (const m of text.matchAll(VERSION_KEY)) {
    const value = m[2] ?? m[3]!;
    if (value !== version) continue;
    const start = m.index + m[1]!.length;
    const quote: '"' | "'" = m[2] !== undefined ? '"' : "'";
    const at = { start, end: start + value.length + 2, quote };
    let probed: TOML.JsonMap;
    try {
      probed = TOML.parse(splice(text, at, probe));
    } catch {
      continue;
    }
    const probedProject = probed.project as TOML.JsonMap | undefined;
    if (probedProject?.version !== probe) continue;
    probedProject.version = version;
    if (isDeepStrictEqual(probed, doc)) return { name, version, ...at };
  }
  throw new PyprojectError(`${file}: cannot find the [project] version on a line of its own; write it as version = "${version}" under [project]`);
}

/**
 * [project] name and its static version, or how its dynamic version is computed; throws
 * PyprojectError (naming `file`) for a static version tagship cannot read or set.
 */
export function readProject(text: string, file: string): ProjectInfo {
  const doc = parseToml(text, file);
  const project = projectTable(doc, file);
  if (isDynamicVersion(project)) {
    if (project.version !== undefined) throw new PyprojectError(`${file}: [project] has both a version and dynamic = ["version"]; keep one`);
    return { name: typeof project.name === 'string' ? project.name : undefined, dynamic: dynamicVersionSource(doc) };
  }
  const { name, version } = locate(text, file);
  return { name, version };
}

export function readProjectVersion(text: string, file: string): string {
  return locate(text, file).version;
}

/** The same text with only the [project] version's value replaced. */
export function setProjectVersion(text: string, file: string, version: string): string {
  if (!SAFE_VERSION.test(version)) {
    throw new PyprojectError(`${file}: refusing to write version "${version}": only letters, digits and . + ! _ - are allowed`);
  }
  const at = locate(text, file);
  return at.version === version ? text : splice(text, at, version);
}
