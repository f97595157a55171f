import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  badTagMessage,
  compareVersions,
  invalidVersionMessage,
  isStable,
  isValidVersion,
  normalizeProjectName,
  parseVersion,
  versionFromTag,
} from '../../src/contract/version';

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

  it('accepts only the canonical PEP 440 spelling, which is what the build produces', () => {
    for (const good of [
      '0.0.0',
      '1.0.18',
      '10.20.30',
      '999999999.0.1',
      '1.0.0a1',
      '1.0.0b2',
      '1.0.0rc10',
      '1.0.0.post1',
      '1.0.0.dev0',
      '1.0.0rc1.post2.dev3',
    ]) {
      assert.ok(isValidVersion(good), good);
      assert.equal(versionFromTag(`v${good}`), good);
    }
    // uv and the index would call these 1.0.0, 1.0.0rc1, ...: the tag would name a version nothing is built as.
    for (const bad of ['01.0.0', '1.00.0', '1.0.00', '1.0.0rc01', '1.0.0.post01', '1.0.0.dev00', '1.0.0-rc1', '1.0.0RC1', '1.0.0c1', '1.0.0.rc1']) {
      assert.equal(isValidVersion(bad), false, bad);
      assert.equal(versionFromTag(`v${bad}`), undefined, bad);
    }
  });

  it('bounds every number and the whole version', () => {
    assert.equal(isValidVersion('1234567890.0.0'), false);
    assert.equal(isValidVersion(`1.0.${'9'.repeat(300)}`), false);
    assert.equal(versionFromTag(`v1.0.${'9'.repeat(300)}`), undefined);
    // 9-digit numbers everywhere: canonical, but longer than 64 characters.
    const n = '123456789';
    const long = `${n}.${n}.${n}rc${n}.post${n}.dev${n}`;
    assert.ok(long.length > 64);
    assert.equal(isValidVersion(long), false);
  });

  it('names the tag and the rule it breaks', () => {
    assert.equal(
      badTagMessage('v01.0.0'),
      'ERROR: Tag \'v01.0.0\' is not a release tag: "01" has a leading zero (PEP 440 spells it 1); a tag is v + canonical PEP 440 X.Y.Z (optionally aN, bN, rcN, .postN, .devN), no leading zeros, at most 9 digits per number and 64 characters (e.g. v1.0.18)',
    );
    assert.match(badTagMessage('v1.0.1234567890'), /^ERROR: Tag 'v1\.0\.1234567890' is not a release tag: "1234567890" has more than 9 digits/);
    const huge = badTagMessage(`v1.0.${'9'.repeat(300)}`);
    assert.match(huge, /^ERROR: Tag 'v1\.0\.9+…' is not a release tag: it is longer than 64 characters/);
    assert.ok(huge.length < 400, 'the tag is shortened in the message');
    // The seed's words stay for what is not v*.*.* at all.
    assert.equal(badTagMessage('v1.0'), "ERROR: Tag 'v1.0' does not match v*.*.* (e.g. v1.0.18)");
    assert.match(
      invalidVersionMessage('1.0.018'),
      /^invalid version "1\.0\.018": "018" has a leading zero \(PEP 440 spells it 18\); expected canonical PEP 440 X\.Y\.Z/,
    );
    assert.equal(invalidVersionMessage('1.0.18-beta'), 'invalid version "1.0.18-beta": expected X.Y.Z (PEP 440, e.g. 1.0.18)');
  });
});
