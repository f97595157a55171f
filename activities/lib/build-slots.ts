// A per-worker limit on concurrent image builds (TAGSHIP_IMAGE_BUILDS). Image steps start as soon
// as their packages are visible; the slot is taken only around the build itself, so four heavy
// variants queue on one worker instead of thrashing its CPUs, and waiting steps say why they wait.
export class BuildSlots {
  private inUse = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`image build slots must be a whole number >= 1, got ${size}`);
  }

  get busy(): number {
    return this.inUse;
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  async acquire(signal?: AbortSignal, onWait?: (position: number) => void): Promise<() => void> {
    if (this.inUse < this.size) {
      this.inUse++;
      return this.releaser();
    }
    onWait?.(this.waiting.length + 1);
    await new Promise<void>((resolve, reject) => {
      const entry = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted while waiting for an image build slot'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
    return this.releaser();
  }

  /** Runs `work` holding a slot. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal, onWait?: (position: number) => void): Promise<T> {
    const release = await this.acquire(signal, onWait);
    try {
      return await work();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter, so inUse never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.inUse--;
    };
  }
}
