// How preflight's checks become one answer. Every check runs, even when another has already
// failed, so the operator learns everything to fix before the one retry: a release refused for its
// registry password and then again for its GitHub token is two waits where one would do.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { PreflightCheck } from '../../src/contract/activities';
import { failure } from '../../src/contract/failures';
import { throwIfCancelled } from './child-process';

/** What one check found wrong; `retryable` when the destination could not be reached to ask it. */
export class PreflightProblem extends Error {
  override name = 'PreflightProblem';
  constructor(
    readonly check: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** The destination answered, and said no: another attempt gets the same answer. */
export function refused(check: string, message: string): PreflightProblem {
  return new PreflightProblem(check, message, false);
}

/** The destination did not answer (network, 5xx, throttling): another attempt may get through. */
export function unreachable(check: string, message: string): PreflightProblem {
  return new PreflightProblem(check, message, true);
}

/** An HTTP answer that says nothing about permission, only that the server could not take the request now. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Why a request got no answer: undici's "fetch failed" says nothing, its cause (ECONNREFUSED, a timeout) does. */
export function networkReason(err: unknown): string {
  const e = err as Error & { cause?: { code?: unknown; message?: unknown } };
  const cause = typeof e.cause?.code === 'string' ? e.cause.code : typeof e.cause?.message === 'string' ? e.cause.message : undefined;
  return cause && !e.message.includes(cause) ? `${e.message} (${cause})` : e.message;
}

/** A request's own time limit beside the step's cancel, whichever comes first. */
export function deadline(signal: AbortSignal | undefined, ms = 30_000): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** An HTML error page's text as the server meant it: "Missing 'content'", not "Missing &#039;content&#039;". */
function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** The text of an answer worth showing an operator: a JSON API's error messages, an HTML page's <pre>, else its first line; bounded. */
export async function answerText(res: Response): Promise<string> {
  const raw = (await res.text().catch(() => '')).trim();
  let text: string;
  try {
    // Registries and PyPI say `errors` (code, message), GitHub `message`, token services `details`, OAuth `error_description`.
    const body = JSON.parse(raw) as Record<string, unknown> & { errors?: { code?: unknown; message?: unknown; description?: unknown }[] };
    const errors = Array.isArray(body.errors)
      ? body.errors.map((e) => [e.code, e.message ?? e.description].filter((x) => typeof x === 'string' && x !== '').join(': '))
      : [];
    const said = ['message', 'details', 'error_description', 'error'].map((k) => body[k]).find((v) => typeof v === 'string' && v !== '') as string | undefined;
    text = [said ?? '', ...errors].filter(Boolean).join('; ');
  } catch {
    const pre = /<pre>([\s\S]*?)<\/pre>/i.exec(raw)?.[1] ?? /<title>([\s\S]*?)<\/title>/i.exec(raw)?.[1];
    text = unescapeHtml((pre ?? raw.split('\n')[0] ?? '').replace(/<[^>]*>/g, ''));
  }
  // Warehouse (PyPI) puts its reason in the status line and an HTML page in the body.
  const reason = res.statusText.trim();
  if (reason.length > 24 && !text.includes(reason)) text = text ? `${reason}; ${text}` : reason;
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export interface NamedCheck {
  /** "registry push", "index upload", "github release", "dockerfile". */
  readonly check: string;
  /** What was proven, or a PreflightProblem (any other error counts as could-not-check). */
  readonly run: () => Promise<string>;
}

function asProblem(check: string, err: unknown): PreflightProblem {
  if (err instanceof PreflightProblem) return err;
  // A failure a shared helper raised (a tag moved, a path leading out of the checkout) keeps its verdict.
  if (err instanceof ApplicationFailure) return new PreflightProblem(check, err.message, !err.nonRetryable);
  return unreachable(check, err instanceof Error ? err.message : String(err));
}

function listed(p: PreflightProblem, mixed: boolean): string {
  const text = p.message.replace(/\n/g, '\n      ');
  return `  - ${p.check}: ${mixed && p.retryable ? '(could not check) ' : ''}${text}`;
}

/**
 * Runs every check at once and returns one line per check, or fails with every problem in one
 * message: PreflightFailed when some destination refused (an operator fixes and retries),
 * PreflightUnreachable when they only could not be reached (retried as the step's policy says).
 */
export async function runChecks(checks: readonly NamedCheck[], signal?: AbortSignal): Promise<PreflightCheck[]> {
  const settled = await Promise.allSettled(checks.map((c) => c.run()));
  // A cancelled step ends as its cancellation, not as the checks its cancel cut off.
  throwIfCancelled(signal);
  const cancelled = settled.find((s) => s.status === 'rejected' && s.reason instanceof CancelledFailure);
  if (cancelled) throw (cancelled as PromiseRejectedResult).reason;
  const passed: PreflightCheck[] = [];
  const problems: PreflightProblem[] = [];
  settled.forEach((s, i) => {
    const check = checks[i]!.check;
    if (s.status === 'fulfilled') passed.push({ check, detail: s.value });
    else problems.push(asProblem(check, s.reason));
  });
  if (problems.length === 0) return passed;
  const anyRefused = problems.some((p) => !p.retryable);
  const head =
    problems.length === 1
      ? `preflight: 1 of ${checks.length} checks failed`
      : `preflight: ${problems.length} of ${checks.length} checks failed (all listed, so one retry can follow the fixes)`;
  const message = `${head}; nothing was built or uploaded:\n${problems.map((p) => listed(p, anyRefused)).join('\n')}`;
  throw failure(anyRefused ? 'PreflightFailed' : 'PreflightUnreachable', message);
}
