// The worker's activities, bound to this worker's settings (paths and credentials stay out of
// workflow payloads). Each one is small, idempotent, and takes and returns plain data.
import { DEFAULT_IMAGE_BUILDS, type WorkerSettings } from './lib/settings';
import { BuildSlots } from './lib/build-slots';
import { buildPackage, type BuildPackageInput } from './build-package';
import { publishGitHubRelease, type GitHubReleaseInput } from './github-release';
import { whileHeartbeating } from './lib/heartbeat';
import { publishImage, type PublishImageInput } from './publish-image';
import { publishPackage, type PublishPackageInput } from './publish-package';
import { retagLatest, runningReleaseVersions, type RetagLatestInput } from './retag-latest';
import { tagRelease, type TagReleaseInput } from './tag-release';
import { validateRelease, type ValidateInput } from './validate-release';
import { waitUntilVisible, type WaitVisibleInput } from './wait-visible';

export function createActivities(settings: WorkerSettings) {
  const imageSlots = new BuildSlots(settings.imageBuilds ?? DEFAULT_IMAGE_BUILDS);
  return {
    validateRelease: (input: ValidateInput) => validateRelease(settings, input),
    buildPackage: (input: BuildPackageInput) => whileHeartbeating(input.package, () => buildPackage(settings, input)),
    publishPackage: (input: PublishPackageInput) => whileHeartbeating(input.package, () => publishPackage(settings, input)),
    waitUntilVisible: (input: WaitVisibleInput) => waitUntilVisible(input),
    publishImage: (input: PublishImageInput) => whileHeartbeating(input.variant, () => publishImage(settings, imageSlots, input)),
    publishGitHubRelease: (input: GitHubReleaseInput) => publishGitHubRelease(settings, input),
    retagLatest: (input: RetagLatestInput) => retagLatest(settings, input),
    tagRelease: (input: TagReleaseInput) => tagRelease(settings, input),
    runningReleaseVersions,
  };
}
