// How each kind of step is run: its timeouts, heartbeat and retries (from the release's config
// snapshot), and the activity id and summary that make history and the UI read as the release's
// steps ("build:open-ticket-ai"). Inputs are planned from the snapshot: each step gets its slice.
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import { buildSlice, githubReleaseSlice, imageSlice, publishSlice, validateSlice, visibleSlice } from '../src/config/plan';
import type {
  BuildPackageInput,
  GitHubReleaseInput,
  PublishImageInput,
  PublishPackageInput,
  ReleaseActivities,
  ValidateInput,
  WaitVisibleInput,
} from '../src/contract/activities';
import { retryPolicy } from '../src/contract/failures';
import type { ReleaseConfig } from '../src/contract/release';
import { GITHUB_RELEASE_STEP, type StepKind } from '../src/contract/steps';

// Releases started before a setting existed carry configs without it; they keep today's defaults.
const DEFAULT_RETRIES: ReleaseConfig['retries'] = { validate: 5, build: 3, publish: 8, visible: 5, image: 5 };
const GITHUB_RELEASE_OPTIONS: ActivityOptions = { startToCloseTimeout: '5m', retry: retryPolicy(5) };
export const DEFAULT_TOKEN_WAIT = '30m';

export function stepOptions(config: ReleaseConfig): Record<StepKind, ActivityOptions> {
  const t = config.timeouts;
  const r = { ...DEFAULT_RETRIES, ...config.retries };
  return {
    validate: { startToCloseTimeout: t.validate, retry: retryPolicy(r.validate) },
    build: { startToCloseTimeout: t.build, heartbeatTimeout: '1m', retry: retryPolicy(r.build) },
    publish: { startToCloseTimeout: t.publish, heartbeatTimeout: '1m', retry: retryPolicy(r.publish) },
    visible: { startToCloseTimeout: t.visible, heartbeatTimeout: '1m', retry: retryPolicy(r.visible) },
    image: { startToCloseTimeout: t.image, heartbeatTimeout: '2m', retry: retryPolicy(r.image) },
    github: GITHUB_RELEASE_OPTIONS,
  };
}

type Without<T> = Omit<T, 'config'>;

/** One function per step kind: plans the step's input from the snapshot and schedules its activity. */
export function releaseSteps(config: ReleaseConfig) {
  const options = stepOptions(config);
  const named = (kind: StepKind, subject: string | undefined, summary: string) =>
    proxyActivities<ReleaseActivities>({ ...options[kind], activityId: subject === undefined ? kind : `${kind}:${subject}`, summary });
  return {
    validate: (a: Without<ValidateInput>) => named('validate', undefined, `validate ${a.tag}`).validateRelease({ ...a, config: validateSlice(config) }),
    build: (a: Without<BuildPackageInput>) =>
      named('build', a.package, `uv build ${a.package} ${a.version}`).buildPackage({ ...a, config: buildSlice(config, a.package) }),
    publish: (a: Without<PublishPackageInput>) =>
      named('publish', a.package, `upload ${a.package} ${a.version}`).publishPackage({ ...a, config: publishSlice(config) }),
    visible: (a: Without<WaitVisibleInput>) =>
      named('visible', a.package, `wait for ${a.package} on the Simple API`).waitUntilVisible({ ...a, config: visibleSlice(config) }),
    image: (a: Without<PublishImageInput>) =>
      named('image', a.variant, `image ${a.version}-${a.variant}`).publishImage({ ...a, config: imageSlice(config, a.variant) }),
    githubRelease: (a: Without<GitHubReleaseInput>) =>
      proxyActivities<ReleaseActivities>({ ...options.github, activityId: GITHUB_RELEASE_STEP, summary: `GitHub Release ${a.tag}` }).publishGitHubRelease({
        ...a,
        config: githubReleaseSlice(config),
      }),
  };
}

export type ReleaseSteps = ReturnType<typeof releaseSteps>;
