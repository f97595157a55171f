// Guards workflow determinism across code changes: a real release's history, recorded from the
// end-to-end test (TAGSHIP_RECORD_HISTORY=1), must replay against today's workflow code.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { stepEvents } from '../../src/client/follow';
import { workflowsPath } from '../../worker/run';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'release-v1.0.18.history.json');

describe('recorded release history', () => {
  it('replays the v1.0.18 release of every step without a determinism error', async () => {
    const history = historyFromJSON(JSON.parse(await readFile(FIXTURE, 'utf8')));
    const completed = stepEvents(history.events ?? [])
      .filter((e) => e.kind === 'completed')
      .map((e) => e.step);
    // The fixture is a full release: 1 validate + 3×(build, publish, visible) + 4 images.
    assert.equal(completed.length, 14, `fixture has ${completed.join(', ')}`);
    await Worker.runReplayHistory({ workflowsPath }, history, 'release/Softoft-Orga/open-ticket-ai/v1.0.18');
  });
});
