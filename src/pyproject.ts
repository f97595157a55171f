// Reading and setting the static `version` of a pyproject.toml's [project] table. TOML is parsed
// to know the truth, but the rewrite is textual and touches only that one value, so comments,
// quoting, key order and line endings stay byte-identical (a release commit diff of one line).
import TOML from '@iarna/toml';

export class PyprojectError extends Error {
  override name = 'PyprojectError';
}

interface VersionLine {
  /** Offset of the first character of the value's opening quote. */
  readonly start: number;
  /** Offset just past the closing quote. */
  readonly end: number;
  readonly quote: '"' | "'";
  readonly value: string;
}

function parse(text: string, file: string): { name?: unknown; version?: unknown; dynamic?: unknown } {
  let doc: TOML.JsonMap;
  try {
    doc = TOML.parse(text);
  } catch (err) {
    throw new PyprojectError(`${file}: invalid TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  const project = doc.project;
  if (project === undefined || typeof project !== 'object' || Array.isArray(project)) {
    throw new PyprojectError(`${file}: no [project] table (tagship reads the version from [project] version)`);
  }
  return project as { name?: unknown; version?: unknown; dynamic?: unknown };
}

const TABLE_HEADER = /^[ \t]*\[\[?[ \t]*([^\]#]+?)[ \t]*\]\]?[ \t]*(?:#.*)?$/;
const VERSION_KEY = /^([ \t]*(?:version|"version"|'version')[ \t]*=[ \t]*)(["'])([^"'\r\n]*)\2/;

/** Finds the `version = "…"` line inside [project] (not in [tool.*] or any other table). */
function findVersionLine(text: string): VersionLine | undefined {
  let table = '';
  let offset = 0;
  for (const line of text.split('\n')) {
    const header = TABLE_HEADER.exec(line.replace(/\r$/, ''));
    if (header) table = header[1]!.replace(/\s+/g, '');
    else if (table === 'project') {
      const m = VERSION_KEY.exec(line);
      if (m) {
        const start = offset + m[1]!.length;
        return { start, end: start + m[3]!.length + 2, quote: m[2] as '"' | "'", value: m[3]! };
      }
    }
    offset += line.length + 1;
  }
  return undefined;
}

function staticVersion(text: string, file: string): { version: string; line: VersionLine } {
  const project = parse(text, file);
  if (Array.isArray(project.dynamic) && project.dynamic.includes('version')) {
    throw new PyprojectError(`${file}: [project] version is dynamic; tagship needs a static version = "X.Y.Z" to check and set`);
  }
  if (typeof project.version !== 'string') throw new PyprojectError(`${file}: [project] has no version`);
  const line = findVersionLine(text);
  if (!line || line.value !== project.version) {
    // A multi-line or unusual spelling we cannot rewrite safely; refuse rather than guess.
    throw new PyprojectError(`${file}: cannot locate the [project] version line; write it as version = "${project.version}"`);
  }
  return { version: project.version, line };
}

export function readProjectName(text: string, file: string): string | undefined {
  const name = parse(text, file).name;
  return typeof name === 'string' ? name : undefined;
}

export function readProjectVersion(text: string, file: string): string {
  return staticVersion(text, file).version;
}

/** The same text with only the [project] version's value replaced. */
export function setProjectVersion(text: string, file: string, version: string): string {
  const { line } = staticVersion(text, file);
  return `${text.slice(0, line.start)}${line.quote}${version}${line.quote}${text.slice(line.end)}`;
}
