// One glyph per step state, shared by the workflow's live table and the CLI's (pure data, so the
// workflow sandbox may import it).
import type { StepState } from './release';

export const STEP_ICON: Readonly<Record<StepState, string>> = {
  pending: '·',
  running: '▶',
  retrying: '↻',
  'waiting-for-operator': '⏸',
  succeeded: '✓',
  skipped: '↷',
  failed: '✗',
};
