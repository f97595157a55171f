#!/usr/bin/env node
// The tagship command line. Each command group lives in its own module and registers itself here.
import { Command, CommanderError } from 'commander';
import { MissingConfigError } from '../config/load';
import { registerReleaseCommands } from './release-command';
import { registerServerCommand } from './server-command';
import { registerSetupCommand } from './setup-command';
import { registerScheduleCommands } from './schedule-command';
import { registerVersionsCommands } from './versions-command';
import { registerWorkerCommand } from './worker-command';

// `tagship dev` (src/dev) is loaded on demand: the production image leaves src/dev out, and there
// the command stays listed but answers with this instead.
const DEV_MISSING =
  'tagship dev: the embedded dev stack is not in this installation (it is left out of the production image); ' +
  'run it from a source checkout: npm ci && npx tagship dev';

// True when `err` says that the module at `specifier` itself is missing (not one of its imports).
function isMissingModule(err: unknown, specifier: RegExp): boolean {
  if (!(err instanceof Error) || (err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') return false;
  const missing = /^Cannot find (?:module|package) '([^']+)'/.exec(err.message)?.[1];
  return missing !== undefined && specifier.test(missing);
}

async function registerDev(program: Command): Promise<void> {
  let dev: typeof import('../dev/dev-command');
  try {
    dev = await import('../dev/dev-command');
  } catch (err) {
    if (!isMissingModule(err, /(^|[\\/])dev[\\/]dev-command(\.[jt]s)?$/)) throw err;
    program
      .command('dev')
      .description('run the embedded stack (not in this installation: it is left out of the production image)')
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        process.stderr.write(`${DEV_MISSING}\n`);
        process.exitCode = 2;
      });
    return;
  }
  dev.registerDevCommand(program);
}

export async function buildProgram(): Promise<Command> {
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
  await registerDev(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram();
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    // No configuration is a command line that cannot mean anything (there are no built-in defaults).
    if (err instanceof MissingConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`tagship: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
