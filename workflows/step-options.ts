// How each kind of step is run: its timeouts, heartbeat and retries (from the release's config
// snapshot), and the activity id and summary that make history and the UI read as the release's
// steps ("build:open-ticket-ai"). Inputs are planned from the snapshot: each step gets its slice.
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import { buildSlice, githubReleaseSlice, imageSlice, preflightSlice, publishSlice, validateSlice, visibleSlice } from '../src/config/plan';
import type {
  BuildPackageInput,
  GitHubReleaseInput,
  PreflightInput,
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
export const DEFAULT_OPERATOR_WAIT = '7d';

/**
 * What changed for releases started since preflight (the `release-semantics-2` patch): an abort
 * waits until each running step's activity acknowledged its cancellation (its child processes are
 * dead, nothing more lands), and every step heartbeats so the cancellation reaches it. Releases
 * started before keep the options they were recorded with.
 */
function abortWaitsForSteps(o: ActivityOptions): ActivityOptions {
  return { ...o, heartbeatTimeout: o.heartbeatTimeout ?? '1m', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
}

export function stepOptions(config: ReleaseConfig, semantics2 = false): Record<StepKind, ActivityOptions> {
  const t = config.timeouts;
  const r = { ...DEFAULT_RETRIES, ...config.retries };
  const options: Record<StepKind, ActivityOptions> = {
    validate: { startToCloseTimeout: t.validate, retry: retryPolicy(r.validate) },
    // Preflight shares validate's budget: it reads, it never writes.
    preflight: { startToCloseTimeout: t.validate, retry: retryPolicy(r.validate) },
    build: { startToCloseTimeout: t.build, heartbeatTimeout: '1m', retry: retryPolicy(r.build) },
    publish: { startToCloseTimeout: t.publish, heartbeatTimeout: '1m', retry: retryPolicy(r.publish) },
    visible: { startToCloseTimeout: t.visible, heartbeatTimeout: '1m', retry: retryPolicy(r.visible) },
    image: { startToCloseTimeout: t.image, heartbeatTimeout: '2m', retry: retryPolicy(r.image) },
    github: GITHUB_RELEASE_OPTIONS,
  };
  if (!semantics2) return options;
  return Object.fromEntries(Object.entries(options).map(([k, o]) => [k, abortWaitsForSteps(o)])) as Record<StepKind, ActivityOptions>;
}

type Without<T> = Omit<T, 'config'>;

/** One function per step kind: plans the step's input from the snapshot and schedules its activity. */
export function releaseSteps(config: ReleaseConfig, semantics2 = false) {
  const options = stepOptions(config, semantics2);
  const named = (kind: StepKind, subject: string | undefined, summary: string) =>
    proxyActivities<ReleaseActivities>({ ...options[kind], activityId: subject === undefined ? kind : `${kind}:${subject}`, summary });
  return {
    validate: (a: Without<ValidateInput>) => named('validate', undefined, `validate ${a.tag}`).validateRelease({ ...a, config: validateSlice(config) }),
    preflight: (a: Without<PreflightInput>) => named('preflight', undefined, `preflight ${a.tag}`).preflightRelease({ ...a, config: preflightSlice(config) }),
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
