// The worker's activities, built over this worker's settings (paths and credentials stay out of
// workflow payloads). One entry point per file beside this one; what they share is in ./lib.
// Every call goes through `step` below, once, for what all of them need:
// - its input's config slice is brought up to today's shape, so a release recorded by an older
//   tagship runs on with today's activities;
// - every secret the worker knows (and those the call learns) is redacted from what leaves the
//   worker: the failure, its details and causes, heartbeats, log lines and the result;
// - long steps heartbeat on a timer (lib/heartbeat), so a worker that dies mid-build is noticed
//   within the heartbeat timeout and a cancel reaches a step, even while it waits for a build slot;
// - package and image builds take a slot, so a burst of releases does not thrash the worker.
import { Context } from '@temporalio/activity';
import { ConfigError } from '../src/config/schema';
import { upgradeSlice } from '../src/config/upgrade';
import type { ReleaseActivities } from '../src/contract/activities';
import { failure } from '../src/contract/failures';
import { buildPackage } from './build-package';
import { publishGitHubRelease } from './github-release';
import { BuildSlots } from './lib/build-slots';
import { processRedactor, Redactor, registerSecret, withRedactor } from './lib/redactor';
import { DEFAULT_IMAGE_BUILDS, defaultBuilds, type WorkerSettings } from './lib/settings';
import { publishImage } from './publish-image';
import { publishPackage } from './publish-package';
import { retagLatest } from './retag-latest';
import { runningReleases, runningReleaseVersions } from './running-releases';
import { tagRelease } from './tag-release';
import { validateRelease } from './validate-release';
import { waitUntilVisible } from './wait-visible';
import { whileHeartbeating } from './lib/heartbeat';
import { preflightRelease } from './preflight-release';

// As often as lib/heartbeat's timer: well inside every step's heartbeat timeout.
const HEARTBEAT_EVERY_MS = 5_000;

function upgraded<I extends { readonly config: object }>(input: I): I {
  try {
    return { ...input, config: upgradeSlice(input.config) };
  } catch (err) {
    // Retrying cannot fix a recorded snapshot; a new release (or `tagship schedule apply`) can.
    if (err instanceof ConfigError) throw failure('ConfigError', err.message);
    throw err;
  }
}

/** Every secret in the worker's settings: index, registry and GitHub credentials and the payload keys. */
function addSettingsSecrets(redactor: Redactor, settings: WorkerSettings): Redactor {
  for (const c of [settings.index, settings.registry]) if (c) redactor.add(c.password, c.username);
  // GitHub takes a token as the password of any user name; git's credential helpers use this one.
  redactor.add(settings.githubToken, 'x-access-token');
  for (const key of settings.codec?.keys.values() ?? []) redactor.addKey(key);
  return redactor;
}

/**
 * Runs one activity call with its own redactor. The call's context gets a redacting heartbeat and
 * logger in place of its own, because activities and lib code call `ctx.heartbeat` and `ctx.log`
 * directly, and what they pass may hold a child process's output.
 */
async function step<O>(base: Redactor, work: () => Promise<O>): Promise<O> {
  const redactor = base.child();
  const ctx = Context.current();
  const { heartbeat, log } = ctx;
  const own = (value: unknown) => ({ value, writable: true, configurable: true, enumerable: true });
  Object.defineProperty(
    ctx,
    'heartbeat',
    own((details?: unknown) => heartbeat(redactor.value(details))),
  );
  Object.defineProperty(ctx, 'log', own(redactor.logger(log)));
  try {
    return redactor.value(await withRedactor(redactor, work));
  } catch (err) {
    throw redactor.error(err);
  } finally {
    // A context outlives its call only in tests (MockActivityEnvironment reuses one); give it back as it was.
    Object.defineProperty(ctx, 'heartbeat', own(heartbeat));
    Object.defineProperty(ctx, 'log', own(log));
  }
}

/** Release start times by run id (undefined: not known), for the slot lines; bounded, as a worker runs for months. */
const startTimes = new Map<string, Promise<number | undefined>>();
const START_TIMES_KEPT = 1_000;

/**
 * When the release a step belongs to started, which is what the slot lines are ordered by: in a
 * burst, validate steps finish in no particular order, and by their own schedule time the first
 * release's builds could queue behind the tenth's. A step whose workflow cannot be described (no
 * client, as in tests, or Temporal slow to answer) goes by when it was first scheduled instead:
 * the order is worth one call, never a failed or stalled step.
 */
async function releaseStartedAt(ctx: Context): Promise<number> {
  const run = ctx.info.workflowExecution;
  if (!run) return ctx.info.scheduledTimestampMs;
  let known = startTimes.get(run.runId);
  if (!known) {
    known = (async () => {
      try {
        const client = ctx.client;
        const described = await client.withDeadline(Date.now() + 5_000, () => client.workflow.getHandle(run.workflowId, run.runId).describe());
        return described.startTime.getTime();
      } catch {
        startTimes.delete(run.runId);
        return undefined;
      }
    })();
    startTimes.set(run.runId, known);
    if (startTimes.size > START_TIMES_KEPT) startTimes.delete(startTimes.keys().next().value!);
  }
  return (await known) ?? ctx.info.scheduledTimestampMs;
}

/**
 * Runs `work` holding one of `slots`. While the step waits it heartbeats that it waits and where it
 * is in line, so the UI says why and a cancel still reaches it (the wait then ends at once). The
 * line is ordered by when each step's release started: older releases first.
 */
async function inSlot<T>(slots: BuildSlots, subject: string, work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let note = `${subject}: waiting for a ${slots.what} slot on this worker`;
  const timer = setInterval(() => ctx.heartbeat(note), HEARTBEAT_EVERY_MS);
  let release: () => void;
  try {
    release = await slots.forStep(await releaseStartedAt(ctx)).acquire(ctx.cancellationSignal, {
      onPosition: (position) => {
        note = `${subject}: waiting for a ${slots.what} slot on this worker (${position} in line, ${slots.size} at a time)`;
        ctx.heartbeat(note);
      },
    });
  } finally {
    clearInterval(timer);
  }
  try {
    return await work();
  } finally {
    release();
  }
}

export function createActivities(settings: WorkerSettings): ReleaseActivities {
  const secrets = addSettingsSecrets(new Redactor(), settings);
  // Log lines written outside any activity call (a Runtime logger through redactingLogger) redact them too.
  addSettingsSecrets(processRedactor, settings);
  const builds = new BuildSlots(settings.limits?.builds ?? defaultBuilds(), 'package build');
  const images = new BuildSlots(settings.limits?.imageBuilds ?? DEFAULT_IMAGE_BUILDS, 'image build');
  return {
    // Every step heartbeats: releases started since preflight wait for a cancelled step to stop, and
    // only a heartbeat carries the cancellation to it.
    validateRelease: (input) => step(secrets, () => whileHeartbeating('validate', () => validateRelease(settings, upgraded(input)))),
    preflightRelease: (input) => step(secrets, () => whileHeartbeating('preflight', () => preflightRelease(settings, upgraded(input)))),
    buildPackage: (input) =>
      step(secrets, () => inSlot(builds, input.package, () => whileHeartbeating(input.package, () => buildPackage(settings, upgraded(input))))),
    publishPackage: (input) =>
      step(secrets, () => {
        // The forwarded OIDC token is this call's alone; an upload token minted from it registers itself.
        registerSecret(input.oidcToken);
        return whileHeartbeating(input.package, () => publishPackage(settings, upgraded(input)));
      }),
    waitUntilVisible: (input) => step(secrets, () => waitUntilVisible(upgraded(input))),
    publishImage: (input) =>
      step(secrets, () =>
        whileHeartbeating(input.variant, async () =>
          // The image slot is taken around the build alone (in lib/image-build), older releases first.
          publishImage(settings, images.forStep(await releaseStartedAt(Context.current())), upgraded(input)),
        ),
      ),
    publishGitHubRelease: (input) => step(secrets, () => whileHeartbeating(input.tag, () => publishGitHubRelease(settings, upgraded(input)))),
    retagLatest: (input) => step(secrets, () => whileHeartbeating(input.variant, () => retagLatest(settings, upgraded(input)))),
    runningReleaseVersions: (input) => step(secrets, () => runningReleaseVersions(upgraded(input))),
    runningReleases: (input) => step(secrets, () => runningReleases(upgraded(input))),
    tagRelease: (input) => step(secrets, () => whileHeartbeating(input.ref, () => tagRelease(settings, upgraded(input)))),
  };
}
