// How much a worker takes on at once, from its environment and `tagship worker`'s flags: package
// builds, image builds, activities and workflow tasks, with defaults a 2-core machine survives a
// burst of releases with, and errors that name the setting and what it limits.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { limitsFrom, settingsFromEnv, WorkerSettingsError } from '../../worker/settings';

describe('worker limits', () => {
  it('default to one package build per CPU and two image builds, and leave activities and workflow tasks to the SDK', () => {
    assert.deepEqual(settingsFromEnv({}).limits, { builds: availableParallelism(), imageBuilds: 2 });
  });

  it('are read from TAGSHIP_BUILDS, TAGSHIP_IMAGE_BUILDS, TAGSHIP_MAX_ACTIVITIES and TAGSHIP_MAX_WORKFLOW_TASKS', () => {
    const env = { TAGSHIP_BUILDS: '3', TAGSHIP_IMAGE_BUILDS: '1', TAGSHIP_MAX_ACTIVITIES: '20', TAGSHIP_MAX_WORKFLOW_TASKS: '10' };
    assert.deepEqual(settingsFromEnv(env).limits, { builds: 3, imageBuilds: 1, activities: 20, workflowTasks: 10 });
  });

  it('take a flag over its variable, and an empty variable as unset', () => {
    const env = { TAGSHIP_BUILDS: '3', TAGSHIP_IMAGE_BUILDS: '', TAGSHIP_MAX_ACTIVITIES: '20' };
    const flags = { builds: '1', maxActivities: '8', maxWorkflowTasks: '4' };
    assert.deepEqual(limitsFrom(env, flags), { builds: 1, imageBuilds: 2, activities: 8, workflowTasks: 4 });
  });

  it('refuse what is not a whole number in range, naming the setting, the value and what it limits', () => {
    const refused = (env: NodeJS.ProcessEnv, flags: Parameters<typeof limitsFrom>[1], message: RegExp) =>
      assert.throws(
        () => limitsFrom(env, flags),
        (err: unknown) => err instanceof WorkerSettingsError && message.test(err.message),
      );
    refused({ TAGSHIP_BUILDS: '0' }, {}, /^TAGSHIP_BUILDS=0 must be a whole number from 1 to 9999 \(how many uv builds this worker runs at once\)$/);
    refused({ TAGSHIP_IMAGE_BUILDS: 'two' }, {}, /^TAGSHIP_IMAGE_BUILDS=two must be a whole number from 1 to 9999 \(how many image builds/);
    refused({}, { maxActivities: '1.5' }, /^--max-activities=1\.5 must be a whole number from 1 to 9999 \(how many activities/);
    refused({}, { builds: '-2' }, /^--builds=-2 must be a whole number/);
    refused({}, { imageBuilds: '10000' }, /^--image-builds=10000 must be a whole number from 1 to 9999/);
    refused(
      { TAGSHIP_MAX_WORKFLOW_TASKS: '1' },
      {},
      /^TAGSHIP_MAX_WORKFLOW_TASKS=1 must be a whole number from 2 to 9999 \(.*the SDK needs 2 to keep workflows cached\)$/,
    );
    // A bad variable is not hidden by a good flag for another limit, nor a good variable by a bad flag.
    refused({ TAGSHIP_BUILDS: '2' }, { builds: 'x' }, /^--builds=x /);
  });

  it('are refused with the rest of the settings (credentials given by halves too) as a WorkerSettingsError', () => {
    assert.throws(() => settingsFromEnv({ TAGSHIP_INDEX_USERNAME: 'u' }), WorkerSettingsError);
    assert.throws(() => settingsFromEnv({ TAGSHIP_IMAGE_BUILDS: '0' }), /TAGSHIP_IMAGE_BUILDS=0 must be a whole number from 1 to 9999/);
  });
});
