import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PyprojectError, readProject, readProjectVersion, setProjectVersion } from '../../activities/lib/pyproject';

/** Asserts `after` equals `before` except on exactly one line, which becomes `expected`. */
function assertOneLineChanged(before: string, after: string, expected: string): void {
  const a = before.split('\n');
  const b = after.split('\n');
  assert.equal(b.length, a.length);
  const changed = b.flatMap((line, i) => (line === a[i] ? [] : [i]));
  assert.equal(changed.length, 1, `changed lines: ${changed.join(', ')}`);
  assert.equal(b[changed[0]!], expected);
}

function throwsPyproject(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PyprojectError, `expected PyprojectError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('pyproject [project] version', () => {
  const crlf = [
    '# top comment',
    '[build-system]',
    'requires = ["hatchling"]',
    '',
    '[tool.poetry]',
    'version = "1.0.17"',
    '',
    '[project]   # the package',
    "name = 'otai-hf-local'",
    "version   =   '1.0.17'   # bumped by tagship",
    'dependencies = ["open-ticket-ai==1.0.17"]',
    '',
    '[tool.something]',
    "version = '1.0.17'",
    '',
  ].join('\r\n');

  it("reads the [project] version and name, not another table's", () => {
    assert.equal(readProjectVersion(crlf, 'pyproject.toml'), '1.0.17');
    assert.deepEqual(readProject(crlf, 'pyproject.toml'), { name: 'otai-hf-local', version: '1.0.17' });
  });

  it('changes only the [project] value: quotes, spacing, comment, CRLF and other tables stay byte-identical', () => {
    const out = setProjectVersion(crlf, 'pyproject.toml', '1.0.18');
    assertOneLineChanged(crlf, out, "version   =   '1.0.18'   # bumped by tagship\r");
    assert.equal(out.split('\r\n').length, crlf.split('\r\n').length);
    assert.ok(!/[^\r]\n/.test(out), 'every newline is still CRLF');
    assert.ok(out.includes('[tool.poetry]\r\nversion = "1.0.17"\r\n'));
    assert.ok(out.includes("[tool.something]\r\nversion = '1.0.17'\r\n"));
    assert.equal(readProjectVersion(out, 'pyproject.toml'), '1.0.18');
  });

  it('keeps double quotes, a missing final newline and a version line elsewhere in the text', () => {
    const text = [
      '[project]',
      'name = "open-ticket-ai"',
      'description = """',
      'version = "1.0.17"',
      '"""',
      'version = "1.0.17"',
      '[tool.hatch.version]',
      'version = "1.0.17"',
    ].join('\n');
    const out = setProjectVersion(text, 'pyproject.toml', '2.0.0rc1');
    assertOneLineChanged(text, out, 'version = "2.0.0rc1"');
    assert.equal(out.split('\n')[5], 'version = "2.0.0rc1"', 'the line inside the multi-line string is not the version');
    assert.ok(!out.endsWith('\n'));
  });

  it('handles a header with odd spacing and a comment, and a quoted key', () => {
    const text = '[ project ]  # core\n"version" = "1.0.17"\nname = "x"\n';
    assert.equal(setProjectVersion(text, 'p.toml', '1.0.18'), '[ project ]  # core\n"version" = "1.0.18"\nname = "x"\n');
  });

  it('returns the text unchanged when the version is already set', () => {
    const text = '[project]\nname = "x"\nversion = "1.0.17"\n';
    assert.equal(setProjectVersion(text, 'p.toml', '1.0.17'), text);
  });

  it('has no version line to set when the version is dynamic, and says so naming the file', () => {
    throwsPyproject(
      () => readProjectVersion('[project]\nname = "x"\ndynamic = ["version"]\n', 'pkg/pyproject.toml'),
      /^pkg\/pyproject\.toml: \[project\] version is dynamic .*no version line to set/,
    );
    throwsPyproject(() => setProjectVersion('[project]\nname = "x"\ndynamic = ["version"]\n', 'pkg/pyproject.toml', '1.0.18'), /dynamic/);
  });

  it('tells a version taken from the git tag from one the build computes otherwise', () => {
    const dyn = (rest: string) => readProject(`[project]\nname = "x"\ndynamic = ["version"]\n${rest}`, 'p.toml').dynamic;
    assert.deepEqual(dyn('[build-system]\nrequires = ["setuptools>=64", "setuptools-scm>=8"]\nbuild-backend = "setuptools.build_meta"\n'), {
      fromTag: true,
      backend: 'setuptools-scm',
    });
    assert.deepEqual(dyn('[tool.setuptools_scm]\n'), { fromTag: true, backend: 'setuptools-scm' });
    assert.deepEqual(dyn('[tool.hatch.version]\nsource = "vcs"\n'), { fromTag: true, backend: 'hatch-vcs' });
    assert.deepEqual(dyn('[tool.hatch.version]\nsource = "uv-dynamic-versioning"\n'), { fromTag: true, backend: 'uv-dynamic-versioning' });
    assert.deepEqual(dyn('[tool.pdm.version]\nsource = "scm"\n'), { fromTag: true, backend: 'pdm-backend (scm)' });
    assert.deepEqual(dyn('[tool.hatch.version]\npath = "src/x/__about__.py"\n'), { fromTag: false, backend: 'hatch (src/x/__about__.py)' });
    assert.deepEqual(dyn('[tool.setuptools.dynamic]\nversion = { attr = "x.__version__" }\n'), { fromTag: false, backend: 'setuptools (attr)' });
    assert.deepEqual(dyn('[build-system]\nrequires = ["flit_core"]\nbuild-backend = "flit_core.buildapi"\n'), {
      fromTag: false,
      backend: 'flit_core.buildapi',
    });
    throwsPyproject(() => readProject('[project]\nname = "x"\nversion = "1.0.0"\ndynamic = ["version"]\n', 'p.toml'), /both a version and dynamic/);
  });

  it('names the file when [project] or its version is missing, or the TOML is broken', () => {
    throwsPyproject(() => readProjectVersion('[tool.poetry]\nversion = "1.0.17"\n', 'a.toml'), /^a\.toml: no \[project\] table/);
    throwsPyproject(() => readProjectVersion('[project]\nname = "x"\n', 'b.toml'), /^b\.toml: \[project\] has no version/);
    throwsPyproject(() => readProjectVersion('[project]\nversion = 1.0\n', 'c.toml'), /^c\.toml: \[project\] version must be a string/);
    throwsPyproject(() => readProjectVersion('[project]\nname = "x"\n[project\n', 'd.toml'), /^d\.toml:3:\d+: invalid TOML/);
  });

  it('refuses a version it cannot rewrite on one line instead of guessing', () => {
    throwsPyproject(() => readProjectVersion('[project]\nversion = """1.0.17"""\n', 'e.toml'), /^e\.toml: cannot find the \[project\] version on a line/);
    throwsPyproject(() => readProjectVersion('[project]\nversion = "1.0\\u002E17"\n', 'f.toml'), /cannot find/);
  });

  it('refuses to write a value that would need escaping', () => {
    throwsPyproject(() => setProjectVersion('[project]\nversion = "1.0.17"\n', 'g.toml', '1"\nx = "'), /^g\.toml: refusing to write/);
  });
});
