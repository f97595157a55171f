// Runs an image builder (buildah, docker) as a child process (child-process.ts). The builder gets a
// minimal environment, never the worker's: RUN steps and smoke commands are code from the
// repository being released and must not see index or registry secrets (buildah hands its proxy
// variables on to RUN steps, so a proxy URL with a password in it is left out too). Cancellation
// of the activity kills the builder's whole process group and is reported as a cancellation.
import { tmpdir } from 'node:os';
import { childEnv, runChild } from './child-process';

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
  /** false for clean-ups that must run after a cancel too (removing a container or manifest list). */
  readonly cancellable?: boolean;
}

/** Where the builders keep their own state and which engine they talk to; their configuration lives in the worker's HOME. */
const BUILDER_PASS = ['XDG_RUNTIME_DIR', 'BUILDAH_ISOLATION', 'BUILDX_BUILDER', 'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY'];

/** The variables a builder needs to find its own files; nothing else of the worker's environment. */
export function builderEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return childEnv({ pass: BUILDER_PASS, untrusted: true, env: { TMPDIR: tmpdir(), ...extra } });
}

export async function runBuilder(file: string, args: readonly string[], opts: BuilderRunOptions = {}): Promise<BuilderRun> {
  const result = await runChild(file, args, {
    home: 'worker',
    untrusted: true,
    pass: BUILDER_PASS,
    env: { TMPDIR: tmpdir(), ...opts.env },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.cancellable === false ? { cancellable: false } : {}),
  });
  return { exitCode: result.exitCode, output: result.output };
}
