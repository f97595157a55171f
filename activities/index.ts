// The worker's activities, built over this worker's settings (paths and credentials stay out of
// workflow payloads). One entry point per file beside this one; what they share is in ./lib.
// Every input's config slice is brought up to today's shape here, once, so a release recorded by
// an older tagship runs on with today's activities.
import { ConfigError } from '../src/config/schema';
import { upgradeSlice } from '../src/config/upgrade';
import type { ReleaseActivities } from '../src/contract/activities';
import { buildPackage } from './build-package';
import { publishGitHubRelease } from './github-release';
import { DEFAULT_IMAGE_BUILDS, type WorkerSettings } from './lib/settings';
import { BuildSlots } from './lib/build-slots';
import { whileHeartbeating } from './lib/heartbeat';
import { publishImage } from './publish-image';
import { preflightRelease } from './preflight-release';
import { publishPackage } from './publish-package';
import { retagLatest } from './retag-latest';
import { runningReleaseVersions } from './running-releases';
import { tagRelease } from './tag-release';
import { validateRelease } from './validate-release';
import { waitUntilVisible } from './wait-visible';
import { failure } from '../src/contract/failures';

function upgraded<I extends { readonly config: object }>(input: I): I {
  try {
    return { ...input, config: upgradeSlice(input.config) };
  } catch (err) {
    // Retrying cannot fix a recorded snapshot; a new release (or `tagship schedule apply`) can.
    if (err instanceof ConfigError) throw failure('ConfigError', err.message);
    throw err;
  }
}

export function createActivities(settings: WorkerSettings): ReleaseActivities {
  const imageSlots = new BuildSlots(settings.imageBuilds ?? DEFAULT_IMAGE_BUILDS);
  return {
    validateRelease: (input) => validateRelease(settings, upgraded(input)),
    preflightRelease: (input) => whileHeartbeating('preflight', () => preflightRelease(settings, upgraded(input))),
    buildPackage: (input) => whileHeartbeating(input.package, () => buildPackage(settings, upgraded(input))),
    publishPackage: (input) => whileHeartbeating(input.package, () => publishPackage(settings, upgraded(input))),
    waitUntilVisible: (input) => waitUntilVisible(upgraded(input)),
    publishImage: (input) => whileHeartbeating(input.variant, () => publishImage(settings, imageSlots, upgraded(input))),
    publishGitHubRelease: (input) => publishGitHubRelease(settings, upgraded(input)),
    retagLatest: (input) => retagLatest(settings, upgraded(input)),
    runningReleaseVersions: (input) => runningReleaseVersions(upgraded(input)),
    tagRelease: (input) => tagRelease(settings, upgraded(input)),
  };
}
