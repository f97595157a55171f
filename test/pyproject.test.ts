import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PyprojectError, readProjectVersion, setProjectVersion } from '../src/pyproject';

describe('pyproject [project] version', () => {
  const text = [
    '# top comment',
    '[build-system]',
    'requires = ["hatchling"]',
    'version = "9.9.9"  # not the project version',
    '',
    '[project]   # the package',
    "name = 'otai-hf-local'",
    "version = '1.0.17'   # bumped by tagship",
    'dependencies = ["open-ticket-ai==1.0.17"]',
    '',
    '[tool.poetry]',
    'version = "0.0.0"',
    '',
  ].join('\r\n');

  it('reads the [project] version, not another table\'s', () => {
    assert.equal(readProjectVersion(text, 'pyproject.toml'), '1.0.17');
  });

  it('changes only the version value: quotes, comments, CRLF and other tables stay byte-identical', () => {
    const out = setProjectVersion(text, 'pyproject.toml', '1.0.18');
    assert.equal(out, text.replace("version = '1.0.17'", "version = '1.0.18'"));
    assert.equal(readProjectVersion(out, 'pyproject.toml'), '1.0.18');
    assert.ok(out.includes('version = "9.9.9"') && out.includes('version = "0.0.0"'));
  });

  it('refuses a dynamic version, naming the file', () => {
    const dynamic = '[project]\nname = "x"\ndynamic = ["version"]\n';
    assert.throws(() => readProjectVersion(dynamic, 'pkg/pyproject.toml'), (err: unknown) => {
      assert.ok(err instanceof PyprojectError);
      assert.match(err.message, /^pkg\/pyproject\.toml: \[project\] version is dynamic/);
      return true;
    });
  });

  it('names the file when [project] or its version is missing, or the TOML is broken', () => {
    assert.throws(() => readProjectVersion('[tool.x]\nversion = "1"\n', 'a.toml'), /a\.toml: no \[project\] table/);
    assert.throws(() => readProjectVersion('[project]\nname = "x"\n', 'b.toml'), /b\.toml: \[project\] has no version/);
    assert.throws(() => readProjectVersion('[project\nname=', 'c.toml'), /c\.toml: invalid TOML/);
  });
});
