// The workflow bundle's entry point: every workflow the worker registers.
export { release } from './release';
export { republishLatest } from './republish-latest';
export { tagRef } from './tag-ref';
