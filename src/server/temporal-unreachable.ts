// Whether a failed call to Temporal means "Temporal cannot be reached right now" (worth keeping the
// request and trying again) rather than "Temporal refused it" (an answer to pass on). The SDK
// wraps gRPC errors (ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError) with the gRPC error as
// a cause, so the whole cause chain is searched.
import { isGrpcServiceError } from '@temporalio/client';

// gRPC status codes (fixed by the gRPC spec): UNAVAILABLE and DEADLINE_EXCEEDED.
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;
const UNREACHABLE: ReadonlySet<number> = new Set([UNAVAILABLE, DEADLINE_EXCEEDED]);

export function temporalUnreachable(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (isGrpcServiceError(e) && UNREACHABLE.has(e.code)) return true;
  }
  return false;
}
