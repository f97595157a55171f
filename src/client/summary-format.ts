// Human-readable renderings of release progress and results for the CLI and the demo.
import type { StepEvent } from './follow';
import type { ReleaseSummary } from '../contract/release';
import { indentedTail } from './status';

export function formatStep(e: StepEvent): string | undefined {
  switch (e.kind) {
    case 'started':
      return `  … ${e.step}`;
    case 'completed':
      return `  ✓ ${e.step} (${(e.ms / 1000).toFixed(1)}s)`;
    case 'retrying':
      return `  ↻ ${e.step} attempt ${e.attempt}${e.message ? `: ${e.message.split('\n')[0]}` : ''}`;
    case 'failed': {
      const [first, ...rest] = e.message.split('\n');
      return [`  ✗ ${e.step}: ${first}`, ...indentedTail(rest)].join('\n');
    }
    default:
      return undefined;
  }
}

export function formatSummary(s: ReleaseSummary): string {
  const lines = [`Release ${s.repository} ${s.tag} (version ${s.version}, commit ${s.commit.slice(0, 12)})${s.dryRun ? ' — dry run' : ''}`, '', 'Packages:'];
  for (const p of s.packages) {
    for (const f of p.files) {
      const state = s.dryRun ? 'built' : p.alreadyPresent.includes(f.filename) ? 'already on index' : 'uploaded';
      lines.push(`  ${f.filename}  ${f.size} bytes  sha256:${f.sha256}  ${state}`);
    }
  }
  if (s.images.length > 0) {
    lines.push('', 'Images:');
    for (const i of s.images) {
      lines.push(`  ${i.variant}: ${i.digest}  [${i.platforms.join(', ')}]`);
      for (const t of i.tags) lines.push(`    ${t}`);
      if (i.moving) {
        for (const m of i.moving) lines.push(`    ${m.tag}: ${m.moved ? 'moved' : 'kept'} (${m.reason})`);
      } else {
        lines.push(`    -latest: ${i.latest.moved ? 'moved' : 'kept'} (${i.latest.reason})`);
      }
      for (const v of i.verified ?? []) {
        lines.push(`    verified ${v.platform}: ${v.packages.map((p) => `${p.name} ${p.version}`).join(', ')} (files of the published wheels)`);
      }
    }
  }
  return lines.join('\n');
}
