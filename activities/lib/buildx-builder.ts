// docker buildx, production's default builder: the same contract as buildah (build arguments,
// labels, reproducible timestamps, base images pulled when newer, a smoke test of every platform
// before the push, failures with the build's last lines). Plain-HTTP registries for FROM pulls are
// a setting of the buildkit builder itself (buildkitd.toml `[registry."host"] http = true`);
// the push's own registry is marked insecure on the output.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tools } from './tools';
import { buildFailure, classifyBuildOutput, lastLines } from './build-failure';
import { runBuilder } from './builder-process';
import { ownedTempDir } from './leftovers';
import { argPairs, type ImagePlan } from './image-plan';
import { failure } from '../../src/contract/failures';

function common(plan: ImagePlan): string[] {
  return [
    '--file',
    plan.dockerfile,
    '--pull',
    ...argPairs('--build-arg', plan.buildArgs),
    ...argPairs('--label', plan.labels),
    // SOURCE_DATE_EPOCH makes buildkit's timestamps reproducible, so a retried push is a no-op.
    ...(plan.created !== undefined ? ['--build-arg', `SOURCE_DATE_EPOCH=${plan.created}`] : []),
    '--provenance=false',
  ];
}

/** One platform loaded into the engine under a throw-away tag, for the smoke test. */
export function dockerSmokeBuildArgs(plan: ImagePlan, platform: string, localTag: string): string[] {
  return ['buildx', 'build', '--platform', platform, ...common(plan), '--load', '--tag', localTag, '--', plan.context];
}

export function dockerSmokeRunArgs(plan: ImagePlan, platform: string, localTag: string): string[] {
  const [entrypoint, ...args] = plan.smoke;
  return ['run', '--rm', '--platform', platform, '--entrypoint', entrypoint!, '--', localTag, ...args];
}

/** Every platform in one multi-platform push; DOCKER_CONFIG carries the credentials. */
export function dockerBuildxArgs(plan: ImagePlan, metadataFile: string, insecure = false): string[] {
  return [
    'buildx',
    'build',
    '--platform',
    plan.platforms.join(','),
    ...common(plan),
    '--output',
    `type=image,name=${plan.ref},push=true${insecure ? ',registry.insecure=true' : ''}`,
    '--metadata-file',
    metadataFile,
    '--',
    plan.context,
  ];
}

export interface BuildxOptions {
  readonly insecure: boolean;
  /** A DOCKER_CONFIG directory holding the registry credentials. */
  readonly dockerConfig?: string;
  readonly signal?: AbortSignal;
  readonly heartbeat?: (detail: string) => void;
}

export async function buildWithBuildx(plan: ImagePlan, opts: BuildxOptions): Promise<void> {
  const env = opts.dockerConfig ? { DOCKER_CONFIG: opts.dockerConfig } : undefined;
  const run = (args: string[], cancellable = true) =>
    runBuilder(tools.docker(), args, {
      ...(env ? { env } : {}),
      ...(opts.signal && cancellable ? { signal: opts.signal } : {}),
      ...(cancellable ? {} : { cancellable }),
    });
  if (plan.smoke.length > 0) {
    for (const platform of plan.platforms) {
      const localTag = `tagship-smoke-${randomBytes(6).toString('hex')}:${platform.replaceAll('/', '-')}`;
      opts.heartbeat?.(`building ${plan.ref} for ${platform}`);
      const built = await run(dockerSmokeBuildArgs(plan, platform, localTag));
      if (built.exitCode !== 0) throw buildFailure(classifyBuildOutput(built.output), `build of ${plan.ref} for ${platform}`, built.exitCode, built.output);
      try {
        opts.heartbeat?.(`smoke test of ${plan.ref} on ${platform}`);
        const smoke = await run(dockerSmokeRunArgs(plan, platform, localTag));
        if (smoke.exitCode !== 0) {
          throw failure(
            'ImageSmokeFailed',
            `smoke test failed on ${platform} (exit ${smoke.exitCode ?? '?'}): ${JSON.stringify(plan.smoke)} in ${plan.ref}; nothing was pushed\n${lastLines(smoke.output)}`,
          );
        }
      } finally {
        await run(['image', 'rm', '--force', localTag], false);
      }
    }
  }
  const dir = await ownedTempDir('buildx');
  try {
    opts.heartbeat?.(`building and pushing ${plan.ref} for ${plan.platforms.join(', ')}`);
    const pushed = await run(dockerBuildxArgs(plan, join(dir, 'metadata.json'), opts.insecure));
    if (pushed.exitCode !== 0) {
      // buildx builds and pushes in one command: a refusal shows in the push's words, anything else is the build's.
      const kind = classifyBuildOutput(pushed.output, /push|exporting to image/i.test(lastLines(pushed.output, 5)));
      throw buildFailure(kind, `build and push of ${plan.ref}`, pushed.exitCode, pushed.output);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
