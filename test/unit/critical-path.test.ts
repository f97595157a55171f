import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { criticalPathMs, sequentialMs } from '../../bench/critical-path';
import { parseConfig } from '../../src/config/load';

describe('benchmark critical path', () => {
  const config = parseConfig('', 'defaults');
  const times = new Map<string, number>([
    ['validate', 100],
    ['build:open-ticket-ai', 2000],
    ['build:otai-hf-local', 1500],
    ['build:otai-otobo-znuny', 1800],
    ['publish:open-ticket-ai', 300],
    ['publish:otai-hf-local', 900],
    ['publish:otai-otobo-znuny', 300],
    ['visible:open-ticket-ai', 50],
    ['visible:otai-hf-local', 50],
    ['visible:otai-otobo-znuny', 50],
    ['image:core', 400],
    ['image:hf_local', 400],
    ['image:otobo_znuny', 400],
    ['image:all', 700],
  ]);

  it('follows the slowest build, then the slowest package a variant waits for, then its image', () => {
    // validate 100 + slowest build 2000 + (hf_local visible at 950 + image:all 700)
    assert.equal(criticalPathMs(config, times), 100 + 2000 + 950 + 700);
  });

  it('sums every step for the seed order', () => {
    assert.equal(sequentialMs(config, times), 100 + 5300 + 1500 + 150 + 1900);
  });

  it('names a step that has no time', () => {
    const partial = new Map(times);
    partial.delete('image:all');
    assert.throws(() => criticalPathMs(config, partial), /no time recorded for step image:all/);
  });
});
