// `tagship setup`: one-time namespace preparation for a production cluster (idempotent).
import type { Command } from 'commander';
import { ensureSearchAttributes } from '../client/namespace-setup';
import { connectClient, targetFromEnv } from '../client/connect';

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description("register tagship's search attributes (TagshipRepo, TagshipVersion, TagshipStatus) on the namespace")
    .action(async () => {
      const target = targetFromEnv();
      const client = await connectClient(target);
      try {
        const { added, present } = await ensureSearchAttributes(client, target.namespace);
        process.stdout.write(`namespace ${target.namespace}: added ${added.join(', ') || 'nothing'}; already present ${present.join(', ') || 'none'}\n`);
      } finally {
        await client.connection.close();
      }
    });
}
