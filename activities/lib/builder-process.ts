// Runs an image builder (buildah, docker) as a child process. The builder gets a minimal
// environment, never the worker's: RUN steps and smoke commands are code from the repository being
// released and must not see index or registry secrets. Cancellation of the activity kills it.
import { tmpdir } from 'node:os';
import { CancelledFailure } from '@temporalio/common';
import { execa } from 'execa';

export interface BuilderRun {
  readonly exitCode: number | undefined;
  /** stdout and stderr interleaved, as the operator would have seen them in a terminal. */
  readonly output: string;
}

export interface BuilderRunOptions {
  readonly signal?: AbortSignal;
  /** Added to the minimal environment (e.g. DOCKER_CONFIG, CONTAINERS_REGISTRIES_CONF). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** The variables a builder needs to find its own files; nothing else of the worker's environment. */
export function builderEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TZ', 'XDG_RUNTIME_DIR', 'BUILDAH_ISOLATION', 'BUILDX_BUILDER', 'DOCKER_HOST', 'DOCKER_CONTEXT'];
  const env: Record<string, string> = { TMPDIR: tmpdir() };
  for (const k of keep) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

export async function runBuilder(file: string, args: readonly string[], opts: BuilderRunOptions = {}): Promise<BuilderRun> {
  const result = await execa(file, [...args], {
    reject: false,
    stdin: 'ignore',
    all: true,
    extendEnv: false,
    env: builderEnv(opts.env),
    forceKillAfterDelay: 5_000,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  // A cancelled activity reports cancellation, not a build failure that would be retried.
  if (result.isCanceled) throw new CancelledFailure(`${file.split('/').pop()} cancelled`);
  return { exitCode: result.exitCode, output: String(result.all ?? '') };
}
