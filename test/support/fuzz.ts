// Randomised tests draw from one small deterministic PRNG (mulberry32), seeded from
// TAGSHIP_FUZZ_SEED or a fixed default, so a failing run is replayed exactly with
//   TAGSHIP_FUZZ_SEED=<seed> node --import tsx --test <file> --test-name-pattern '<test>'
// The seed is logged with t.diagnostic and goes into every failure message (fuzzFailure).
import type { TestContext } from 'node:test';

/** The seed used when TAGSHIP_FUZZ_SEED is not set. */
export const DEFAULT_FUZZ_SEED = 0x7a65;

/** TAGSHIP_FUZZ_SEED as a 32-bit integer (decimal or 0x hex), or the default; anything else is an error, not a silent default. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TAGSHIP_FUZZ_SEED?.trim();
  if (raw === undefined || raw === '') return DEFAULT_FUZZ_SEED;
  const value = /^0x[0-9a-f]+$/i.test(raw) ? Number.parseInt(raw.slice(2), 16) : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value > 0xffffffff) throw new Error(`TAGSHIP_FUZZ_SEED=${raw} is not a 32-bit unsigned integer (decimal or 0x hex)`);
  return value;
}

/** mulberry32: a tiny PRNG with a 32-bit state; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Fuzz {
  readonly seed: number;
  /** A float in [0, 1). */
  readonly next: () => number;
  /** An integer in [0, n). */
  readonly int: (n: number) => number;
  readonly bool: () => boolean;
  readonly bytes: (n: number) => Buffer;
  /** Suffix for assertion messages: how to replay this run. */
  readonly replay: string;
}

/**
 * The PRNG for one test: seeded from TAGSHIP_FUZZ_SEED (or the default) mixed with `stream`, so
 * tests sharing a seed still draw different sequences. Logs the seed on the test.
 */
export function fuzz(t: TestContext, stream = 0): Fuzz {
  const seed = fuzzSeed();
  const random = mulberry32((seed + stream) | 0);
  t.diagnostic(`fuzz seed ${seed} (TAGSHIP_FUZZ_SEED=${seed} replays this run)`);
  const int = (n: number) => Math.floor(random() * n);
  return {
    seed,
    next: random,
    int,
    bool: () => random() < 0.5,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))),
    replay: `[fuzz seed ${seed}: rerun with TAGSHIP_FUZZ_SEED=${seed}]`,
  };
}
