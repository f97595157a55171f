#!/usr/bin/env node
// The tagship command line. Each command group lives in its own module and registers itself here.
import { Command, CommanderError } from 'commander';
import { registerDevCommand } from '../dev/dev-command';
import { registerReleaseCommands } from './release-command';
import { registerServerCommand } from './server-command';
import { registerSetupCommand } from './setup-command';
import { registerScheduleCommands } from './schedule-command';
import { registerVersionsCommands } from './versions-command';
import { registerWorkerCommand } from './worker-command';

export function buildProgram(): Command {
  const program = new Command('tagship')
    .description('Turn a pushed git tag into a complete, verified release of a Python monorepo.')
    .showHelpAfterError()
    .exitOverride();
  registerVersionsCommands(program);
  registerReleaseCommands(program);
  registerWorkerCommand(program);
  registerServerCommand(program);
  registerSetupCommand(program);
  registerScheduleCommands(program);
  registerDevCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`tagship: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
