import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideLatest, newestStableVersion } from '../activities/latest-tag';

describe('<variant>-latest decision', () => {
  const tags = ['1.0.17-core', '1.0.18-core', '1.0.19rc1-core', '1.0.20-all', 'core-latest', '2.0.0-hf_local'];

  it('finds the newest stable version of one variant, ignoring pre-releases and other variants', () => {
    assert.equal(newestStableVersion(tags, 'core'), '1.0.18');
    assert.equal(newestStableVersion(tags, 'all'), '1.0.20');
    assert.equal(newestStableVersion(tags, 'otobo_znuny'), undefined);
  });

  it('moves for a first, a newer or the same stable version', () => {
    assert.equal(decideLatest([], 'core', '1.0.0').moved, true);
    assert.equal(decideLatest(tags, 'core', '1.0.19').moved, true);
    assert.equal(decideLatest(tags, 'core', '1.0.18').moved, true);
  });

  it('never moves backwards and never to a pre-release', () => {
    const older = decideLatest(tags, 'core', '1.0.17');
    assert.equal(older.moved, false);
    assert.match(older.reason, /1\.0\.18 is newer/);
    const pre = decideLatest(tags, 'core', '1.1.0rc1');
    assert.equal(pre.moved, false);
    assert.match(pre.reason, /pre-release/);
    assert.equal(decideLatest(tags, 'core', '1.1.0.dev3').moved, false);
  });

  it('treats post releases as newer than their release', () => {
    assert.equal(decideLatest(tags, 'core', '1.0.18.post1').moved, true);
  });
});
