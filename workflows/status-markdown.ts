// The release's status as the Temporal UI shows it (current details): a markdown table of the
// steps, and when a step waits for an operator, how to answer it.
import type { ReleaseStatus } from '../src/contract/release';
import { STEP_ICON } from '../src/contract/step-icons';

function cell(text: string): string {
  return text
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
    .slice(0, 300);
}

export function statusMarkdown(st: ReleaseStatus): string {
  const rows = st.steps.map((s) => `| ${STEP_ICON[s.state]} | \`${s.step}\` | ${s.state} | ${cell(s.note ?? '')} |`);
  const waiting = st.steps.filter((s) => s.state === 'waiting-for-operator').map((s) => `\`${s.step}\``);
  const help = waiting.length
    ? `\n\n**Waiting for an operator:** ${waiting.join(', ')}. Retry or skip with \`tagship release retry|skip ${st.tag} <step>\`, or the \`retryStep\`/\`skipStep\` signal with the step name; abort with \`abortRelease\`.`
    : '';
  return [`**Release ${st.tag}** — ${st.state}`, '', '| | step | state | note |', '|---|---|---|---|', ...rows].join('\n') + help;
}
