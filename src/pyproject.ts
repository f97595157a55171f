// Reading and setting the static `version` of a pyproject.toml's [project] table. TOML is parsed
// to know the truth, but the rewrite is textual and touches only that one value, so comments,
// quoting, key order and line endings stay byte-identical (a release commit diff of one line).
import { isDeepStrictEqual } from 'node:util';
import TOML from '@iarna/toml';

export class PyprojectError extends Error {
  override name = 'PyprojectError';
}

export interface ProjectInfo {
  /** [project] name as written (not normalised); undefined when absent. */
  readonly name: string | undefined;
  readonly version: string;
}

interface Located extends ProjectInfo {
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
  return project as TOML.JsonMap;
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
  if (Array.isArray(project.dynamic) && (project.dynamic as unknown[]).includes('version')) {
    throw new PyprojectError(
      `${file}: [project] version is dynamic (dynamic = ["version"]); tagship needs a static version = "X.Y.Z" in [project] to check and set it`,
    );
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
    const at = { start, end: start + value.length + 2, quote: (m[2] !== undefined ? '"' : "'") as '"' | "'" };
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
  throw new PyprojectError(
    `${file}: cannot find the [project] version on a line of its own; write it as version = "${version}" under [project]`,
  );
}

/** [project] name and static version; throws PyprojectError (naming `file`) for anything tagship cannot set. */
export function readProject(text: string, file: string): ProjectInfo {
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
