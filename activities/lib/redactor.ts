// The second wall around secrets: whatever an activity lets out of the worker (a failure's message,
// details, stack and causes, a heartbeat, a log line, a result) has every secret this worker knows
// replaced by `[redacted]`. The first wall keeps secrets out of child processes' environments; this
// one catches what still slips through, e.g. a build that prints a URL with a password in it. A
// secret is also caught in the encodings a child prints: base64 of `user:password` (an
// Authorization header, a docker config), URL-encoded and JSON-escaped.
//
// Each activity call has its own redactor (AsyncLocalStorage), so a token known only to one call
// (the OIDC token CI forwarded, an upload token minted from it) is registered for that call by the
// module that learns it: `registerSecret(token)`.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

export const REDACTED = '[redacted]';

/**
 * Shorter values are not redacted: a three-letter password would shred every message it occurs in
 * by chance, and no redaction can keep such a value secret anyway.
 */
const MIN_SECRET_LENGTH = 4;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Base64 without its padding, which the pattern then allows for: a printer may drop it.
const base64 = (s: string | Buffer) => Buffer.from(s).toString('base64').replace(/=+$/, '');
const base64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

export class Redactor {
  private readonly forms = new Set<string>();
  /** Base64 forms, whose padding goes with them. */
  private readonly padded = new Set<string>();
  /** Counts additions, here and in the parents, so a cached pattern knows when it is stale. */
  private added = 0;
  private cached: { readonly generation: number; readonly pattern: RegExp | null } | undefined;

  constructor(private readonly parent?: Redactor) {}

  /** A redactor for one activity call: it knows this one's secrets and those registered on it. */
  child(): Redactor {
    return new Redactor(this);
  }

  /** Redacts `value` and its usual encodings; with `username`, also the Basic credentials `username:value`. */
  add(value: string | undefined, username?: string): void {
    if (!value || value.length < MIN_SECRET_LENGTH) return;
    this.addForms([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1), base64url(value)]);
    const padded = [base64(value)];
    if (username !== undefined) padded.push(base64(`${username}:${value}`), base64(`${encodeURIComponent(username)}:${encodeURIComponent(value)}`));
    this.addForms(padded, true);
  }

  /** Redacts a binary key by the text forms a process could print it in (base64, base64url, hex). */
  addKey(key: Buffer): void {
    this.addForms([base64url(key), key.toString('hex')]);
    this.addForms([base64(key)], true);
  }

  private addForms(forms: readonly string[], padded = false): void {
    for (const form of forms) {
      if (form.length < MIN_SECRET_LENGTH) continue;
      this.forms.add(form);
      if (padded) this.padded.add(form);
    }
    this.added++;
  }

  private generation(): number {
    return this.added + (this.parent?.generation() ?? 0);
  }

  /** Every form as a regular expression: the text itself, and a base64 form's padding with it. */
  private allForms(): string[] {
    return [...(this.parent?.allForms() ?? []), ...[...this.forms].map((f) => (this.padded.has(f) ? `${escapeRegExp(f)}={0,2}` : escapeRegExp(f)))];
  }

  private pattern(): RegExp | null {
    const generation = this.generation();
    if (this.cached?.generation !== generation) {
      // Longest first, so a secret's base64 form is not half-replaced through a shorter secret inside it.
      const forms = [...new Set(this.allForms())].sort((a, b) => b.length - a.length);
      this.cached = { generation, pattern: forms.length > 0 ? new RegExp(forms.join('|'), 'g') : null };
    }
    return this.cached.pattern;
  }

  text(s: string): string {
    const re = this.pattern();
    return re ? s.replace(re, REDACTED) : s;
  }

  /** A copy of plain data (results, details, heartbeats) with every string redacted; errors are redacted in place. */
  value<T>(v: T): T {
    return this.walk(v, new WeakMap()) as T;
  }

  /**
   * Redacts a thrown error in place: its message, stack, own string fields (an execa error's
   * stdout and stderr), a Temporal failure's details, its cause chain and an AggregateError's
   * errors. In place, so its class (and what the SDK decides from it: cancelled, timed out,
   * non-retryable) stays the same.
   */
  error<E>(err: E): E {
    return this.walk(err, new WeakMap()) as E;
  }

  private walk(v: unknown, seen: WeakMap<object, unknown>): unknown {
    if (typeof v === 'string') return this.text(v);
    if (v === null || typeof v !== 'object') return v;
    const known = seen.get(v);
    if (known !== undefined) return known;
    if (v instanceof Error) {
      seen.set(v, v);
      for (const key of Reflect.ownKeys(v)) {
        const field = (v as unknown as Record<string | symbol, unknown>)[key];
        const redacted = this.walk(field, seen);
        if (redacted === field) continue;
        try {
          (v as unknown as Record<string | symbol, unknown>)[key] = redacted;
        } catch {
          // A read-only field keeps its value; the message, stack and cause are all writable.
        }
      }
      return v;
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      seen.set(v, out);
      for (const item of v) out.push(this.walk(item, seen));
      return out;
    }
    // Only plain objects are copied; anything else (a Buffer, a Date, a class instance) is not text.
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = {};
    seen.set(v, out);
    for (const [key, field] of Object.entries(v)) out[key] = this.walk(field, seen);
    return out;
  }

  /** A logger that redacts messages and metadata before `inner` sees them. */
  logger(inner: Logger): Logger {
    return redactingLogger(inner, () => this);
  }
}

const current = new AsyncLocalStorage<Redactor>();

/** Runs one activity call with `redactor` as the one `registerSecret` adds to. */
export function withRedactor<T>(redactor: Redactor, work: () => Promise<T>): Promise<T> {
  return current.run(redactor, work);
}

/** The redactor of the activity call this runs in, if any. */
export function currentRedactor(): Redactor | undefined {
  return current.getStore();
}

/**
 * Tells the current activity call's redactor about a secret learnt during the call (a token read
 * or minted); outside an activity call it does nothing. With `username`, the Basic credentials
 * `username:secret` are redacted too.
 */
export function registerSecret(secret: string | undefined, username?: string): void {
  current.getStore()?.add(secret, username);
}

/**
 * Secrets of every worker in this process, for the one log line that is written outside an
 * activity call. createActivities adds its settings' secrets here.
 */
export const processRedactor = new Redactor();

/**
 * A logger for the worker's Runtime (`Runtime.install({ logger: redactingLogger(new DefaultLogger()) })`):
 * inside an activity call it redacts with that call's redactor, elsewhere with every worker's secrets.
 */
export function redactingLogger(inner: Logger, redactor: () => Redactor = () => currentRedactor() ?? processRedactor): Logger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const r = redactor();
    return inner.log(level, r.text(message), meta === undefined ? undefined : r.value(meta));
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
