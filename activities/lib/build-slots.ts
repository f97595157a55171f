// A per-worker limit on concurrent builds of one kind: package builds (TAGSHIP_BUILDS) and image
// builds (TAGSHIP_IMAGE_BUILDS). A burst of releases would otherwise run every build it is handed
// at once and thrash the worker's CPUs; over the limit a step waits here, saying why and where it
// is in line. The line is ordered by when each step was first scheduled, so the first release of a
// burst is built first and finishes first instead of sharing the cores with all the others.

export interface SlotWait {
  /** Told its place in line (1 = next) when it starts waiting, and again whenever that place changes. */
  readonly onPosition?: (position: number) => void;
  /**
   * When the step first asked, in ms since the epoch (its first attempt's schedule time): earlier
   * goes first, ties in arrival order. Default: now.
   */
  readonly since?: number;
}

interface Waiter {
  readonly since: number;
  readonly seq: number;
  readonly grant: () => void;
  readonly onPosition?: (position: number) => void;
  position: number;
}

/** The slots and the line of one limit; BuildSlots views of it may carry a step's `since`. */
class SlotLine {
  inUse = 0;
  private seq = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly size: number,
    readonly what: string,
  ) {}

  async acquire(signal: AbortSignal | undefined, wait: SlotWait): Promise<void> {
    if (this.inUse < this.size) {
      this.inUse++;
      return;
    }
    if (signal?.aborted) throw signal.reason;
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        since: wait.since ?? Date.now(),
        seq: this.seq++,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        ...(wait.onPosition ? { onPosition: wait.onPosition } : {}),
        position: 0,
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        this.tellPositions();
        reject(signal?.reason ?? new Error(`aborted while waiting for ${this.what} slot`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const at = this.waiting.findIndex((w) => w.since > waiter.since);
      this.waiting.splice(at < 0 ? this.waiting.length : at, 0, waiter);
      this.tellPositions();
    });
  }

  release(): void {
    // The slot passes straight to the next waiter, so inUse never dips and lets a newcomer jump the line.
    const next = this.waiting.shift();
    if (!next) {
      this.inUse--;
      return;
    }
    next.grant();
    this.tellPositions();
  }

  get length(): number {
    return this.waiting.length;
  }

  private tellPositions(): void {
    this.waiting.forEach((w, i) => {
      if (w.position === i + 1) return;
      w.position = i + 1;
      w.onPosition?.(w.position);
    });
  }
}

export class BuildSlots {
  private line: SlotLine;
  private since: number | undefined;

  constructor(
    readonly size: number,
    /** What a slot is for, as a waiting step's note names it ("image build", "package build"). */
    readonly what = 'image build',
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`${what} slots must be a whole number >= 1, got ${size}`);
    this.line = new SlotLine(size, what);
  }

  /** The same slots, for one step: its place in line is by `since` (when it was first scheduled). */
  forStep(since: number): BuildSlots {
    const view = new BuildSlots(this.size, this.what);
    view.line = this.line;
    view.since = since;
    return view;
  }

  /** Slots in use. */
  get busy(): number {
    return this.line.inUse;
  }

  /** Steps waiting for a slot. */
  get waiting(): number {
    return this.line.length;
  }

  /**
   * Resolves with a release function once a slot is free; rejects if `signal` aborts first. A
   * plain `onWait` is told the step's place once, when it starts waiting.
   */
  async acquire(signal?: AbortSignal, onWait?: ((position: number) => void) | SlotWait): Promise<() => void> {
    const wait: SlotWait = typeof onWait === 'function' ? { onPosition: once(onWait) } : (onWait ?? {});
    await this.line.acquire(signal, { ...wait, ...(wait.since === undefined && this.since !== undefined ? { since: this.since } : {}) });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.line.release();
    };
  }

  /** Runs `work` holding a slot. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal, onWait?: ((position: number) => void) | SlotWait): Promise<T> {
    const release = await this.acquire(signal, onWait);
    try {
      return await work();
    } finally {
      release();
    }
  }
}

function once(f: (position: number) => void): (position: number) => void {
  let called = false;
  return (position) => {
    if (called) return;
    called = true;
    f(position);
  };
}
