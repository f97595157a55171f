// `tagship server`: the HTTP front door (GitHub webhook, CI API, codec endpoint, health probes).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { targetFromEnv } from '../client/connect';
import { hashToken } from '../server/ci-auth';
import { buildServer } from '../server/app';
import { lazyClient, serverSettingsFromEnv } from '../server/server-settings';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('serve the GitHub webhook, the CI start-release API, the codec endpoint and health probes')
    .option('--config <file...>', 'tagship.toml of each repository this server releases', ['tagship.toml'])
    .option('--host <host>', 'address to listen on', process.env.TAGSHIP_SERVER_HOST ?? '127.0.0.1')
    .option('--port <n>', 'port to listen on', (v) => Number.parseInt(v, 10), Number(process.env.TAGSHIP_SERVER_PORT ?? 8787))
    .option(
      '--spool-dir <dir>',
      'where webhook deliveries wait while Temporal is unreachable (default $TAGSHIP_WEBHOOK_SPOOL, else $TAGSHIP_HOME/webhook-spool)',
    )
    .action(async (opts: { config: string[]; host: string; port: number; spoolDir?: string }) => {
      if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new Error('--port must be a port number (1-65535)');
      const configs = await Promise.all(opts.config.map((f) => loadConfig(resolve(f))));
      const env = process.env;
      const issuer = env.TAGSHIP_OIDC_ISSUER ?? GITHUB_ISSUER;
      const target = targetFromEnv(env);
      const settings = serverSettingsFromEnv(env, opts.spoolDir);
      // Lazy: the server starts, and spools deliveries, while Temporal is down.
      const client = lazyClient(target);
      const app = await buildServer({
        client,
        target,
        configs,
        spool: settings.spool,
        apiWaitMs: settings.apiWaitMs,
        ...(env.TAGSHIP_WEBHOOK_SECRET ? { webhookSecret: env.TAGSHIP_WEBHOOK_SECRET } : {}),
        ciAuth: {
          issuer,
          audience: env.TAGSHIP_OIDC_AUDIENCE ?? 'tagship',
          jwksUrl: env.TAGSHIP_OIDC_JWKS_URL ?? `${issuer}/.well-known/jwks`,
          staticTokens: list(env.TAGSHIP_API_TOKENS).map(hashToken),
        },
        ...(target.codec ? { codec: target.codec } : {}),
        codecCorsOrigins: list(env.TAGSHIP_CODEC_CORS_ORIGINS ?? target.uiUrl),
        codecTokens: list(env.TAGSHIP_CODEC_TOKENS).map(hashToken),
        logger: true,
      });
      const address = await app.listen({ host: opts.host, port: opts.port });
      process.stdout.write(`tagship server on ${address} (webhook ${env.TAGSHIP_WEBHOOK_SECRET ? 'on' : 'off: set TAGSHIP_WEBHOOK_SECRET'})\n`);
      await new Promise<void>((done) => {
        const stop = () => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.close();
      await client.connection.close();
    });
}
