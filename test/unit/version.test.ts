import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, isStable, normalizeProjectName, parseVersion, versionFromTag } from '../../src/contract/version';

const v = (s: string) => {
  const p = parseVersion(s);
  assert.ok(p, `${s} parses`);
  return p;
};

describe('version rules', () => {
  it('accepts v*.*.* tags and rejects everything else', () => {
    assert.equal(versionFromTag('v1.0.18'), '1.0.18');
    assert.equal(versionFromTag('v2.0.0rc1'), '2.0.0rc1');
    for (const bad of ['1.0.18', 'v1.0', 'v1.0.18.4', 'v1.0.18;rm -rf /', 'v1.0.x', 'V1.0.18', 'v1.0.18\n', '--upload-pack=x']) {
      assert.equal(versionFromTag(bad), undefined, bad);
    }
  });

  it('orders versions as PEP 440 does', () => {
    const sorted = ['1.0.9', '1.0.10.dev1', '1.0.10a1', '1.0.10b2', '1.0.10rc1', '1.0.10', '1.0.10.post1', '1.1.0'];
    const shuffled = [...sorted].reverse();
    assert.deepEqual(
      shuffled
        .map(v)
        .sort(compareVersions)
        .map((p) => p.text),
      sorted,
    );
    assert.equal(compareVersions(v('1.0.18'), v('1.0.18')), 0);
  });

  it('calls only final releases stable', () => {
    assert.equal(isStable(v('1.0.18')), true);
    assert.equal(isStable(v('1.0.18.post1')), true);
    assert.equal(isStable(v('1.0.18rc1')), false);
    assert.equal(isStable(v('1.0.18.dev3')), false);
  });

  it('normalises project names as the Simple API does', () => {
    assert.equal(normalizeProjectName('Otai_HF.Local'), 'otai-hf-local');
  });
});
