// Which image-build failures are worth another attempt. A Dockerfile that does not parse, a COPY
// of a missing file or a RUN step that fails the same way twice will fail every retry too, so they
// go to an operator at once; network and registry trouble is retried. Every failure carries the
// build's last lines, because the operator reads them in `release status`, not in the worker log.
import type { ApplicationFailure } from '@temporalio/common';
import { FAILURES, failure, type FailureType } from '../../src/contract/failures';
import { throwIfCancelled } from './child-process';

export type BuildFailureKind = 'dockerfile-invalid' | 'missing-file' | 'run-failed' | 'network' | 'refused' | 'other';

const DOCKERFILE_INVALID =
  /Unknown instruction|dockerfile parse error|parse error on line|no FROM statement|unknown flag:|unexpected (?:EOF|end of statement)|missing ["']?FROM|Dockerfile .*(?:is empty|syntax)/i;
const MISSING_FILE = /checking on sources under|copier: stat:|COPY failed|no source files were specified|ADD failed/i;
const RUN_FAILED = /building at STEP "RUN\b|error building at step.*RUN|RUN .*returned a non-zero code|executor failed running/i;
const NETWORK =
  /connection refused|connection reset|timed? ?out|i\/o timeout|temporary failure in name resolution|could not resolve|no such host|network is unreachable|TLS handshake|EOF while|unexpected EOF|\b50[234]\b|too many requests|\b429\b|toomanyrequests|service unavailable/i;
const REFUSED = /\b(401|403|unauthorized|denied|forbidden|authentication required|method not allowed)\b/i;

export function lastLines(text: string, n = 20): string {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-n)
    .join('\n');
}

/** What kind of failure a builder's output shows; `pushing` when the failed command was a push. */
export function classifyBuildOutput(output: string, pushing = false): BuildFailureKind {
  const tail = lastLines(output, 40);
  if (pushing) return REFUSED.test(tail) ? 'refused' : NETWORK.test(tail) ? 'network' : 'other';
  if (DOCKERFILE_INVALID.test(tail)) return 'dockerfile-invalid';
  if (MISSING_FILE.test(tail)) return 'missing-file';
  // A RUN step that failed because the network did is retried, not blamed on the Dockerfile.
  if (NETWORK.test(tail)) return 'network';
  if (RUN_FAILED.test(tail)) return 'run-failed';
  return 'other';
}

/**
 * The output with what differs between two runs of the same failing step removed (timings,
 * container and layer ids, temp paths), so a deterministic failure compares equal to itself.
 */
export function normalizeOutput(output: string): string {
  // Only the failing step's own output: what ran before it may differ (a base image pulled only the first time).
  const lines = output.split('\n');
  const step = lines.findLastIndex((l) => /^STEP \d+\/\d+: /.test(l));
  return lastLines(lines.slice(Math.max(step, 0)).join('\n'), 15)
    .replace(/\b[0-9a-f]{12,64}\b/g, '<id>')
    .replace(/\d+(?:\.\d+)?\s*(?:ms|s|m)\b/g, '<t>')
    .replace(/\/tmp\/[^\s"']+/g, '<tmp>')
    .replace(/time="[^"]*"/g, '');
}

const TYPES: Record<BuildFailureKind, { type: FailureType; why: string }> = {
  'dockerfile-invalid': { type: 'DockerfileInvalid', why: 'the Dockerfile does not parse' },
  'missing-file': { type: 'DockerfileMissingFile', why: 'a file the Dockerfile copies is not in the build context' },
  'run-failed': { type: 'ImageRunFailed', why: 'a RUN step failed twice with the same output' },
  network: { type: 'ImageBuildFailed', why: 'a network or registry error' },
  refused: { type: 'ImagePushRefused', why: 'the registry refused it' },
  other: { type: 'ImageBuildFailed', why: 'the builder failed' },
};

/** The activity failure for a failed builder command; `what` is e.g. "build of r:1.0.18-core for linux/arm64". */
export function buildFailure(kind: BuildFailureKind, what: string, exitCode: number | undefined, output: string): ApplicationFailure {
  // A builder that failed because its step was cancelled failed for no reason of its own: the step
  // reports the cancellation, never a failure Temporal would retry or an operator would be asked about.
  throwIfCancelled();
  const t = TYPES[kind];
  const retried = FAILURES[t.type].retryable;
  return failure(t.type, `${what} failed (exit ${exitCode ?? '?'}): ${t.why}${retried ? '' : '; not retried'}\n${lastLines(output)}`);
}
