// What `POST /api/releases` answers once the release said how its start went (src/client/start.ts,
// startReleaseUnderWay): a status code CI can act on and the step's own words.
//
//   202 under-way  validate and preflight passed; the release goes on
//   202 starting   still validating when the server's wait ran out (TAGSHIP_API_WAIT_SECONDS)
//   422            validate refused the tag (the seed's messages: versions that disagree, a tag
//                  that names another version, a tag not in the repository, ...)
//   424            preflight found a destination that will not take the release (it waits for an operator)
//   409            the release ended before it was under way (aborted, or an operator's wait ran out)
import type { UnderWayAnswer } from '../client/start';

const PREFLIGHT_FAILURES: ReadonlySet<string> = new Set(['PreflightFailed', 'PreflightUnreachable']);
const ENDED: ReadonlySet<string> = new Set(['Aborted', 'OperatorWaitExpired', 'ReleaseEnded', 'ReleaseFailed']);

export interface HttpAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** The status code for a release stopped with failure `type`: 424 preflight, 409 ended, else 422 (validate). */
export function stoppedStatus(type: string): number {
  if (PREFLIGHT_FAILURES.has(type)) return 424;
  if (ENDED.has(type)) return 409;
  return 422;
}

export function underWayAnswer(answer: UnderWayAnswer, release: { readonly workflowId: string; readonly url: string; readonly tag: string }): HttpAnswer {
  const { workflowId, url, tag } = release;
  switch (answer.kind) {
    case 'under-way': {
      const u = answer.underWay;
      return { status: 202, body: { status: 'under-way', workflowId, url, tag: u.tag, version: u.version, commit: u.commit, checks: u.checks } };
    }
    case 'starting':
      return { status: 202, body: { status: 'starting', workflowId, url, tag, ...(answer.reason !== undefined ? { note: answer.reason } : {}) } };
    case 'running':
      return { status: 202, body: { status: 'running', workflowId, url, tag } };
    case 'stopped':
      return {
        status: stoppedStatus(answer.type),
        body: {
          status: 'stopped',
          error: answer.message,
          type: answer.type,
          ...(PREFLIGHT_FAILURES.has(answer.type) ? { step: 'preflight' } : {}),
          workflowId,
          url,
          tag,
        },
      };
  }
}
