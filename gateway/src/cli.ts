#!/usr/bin/env node
/**
 * `switchboard-gateway [--config FILE]`: starts the gateway. With no configuration it runs the
 * built-in demo (demo users, echo test on 600) on 127.0.0.1.
 */
import { ConfigError, loadConfigWithMode } from './config.js';
import { createGateway } from './gateway.js';
import { log } from './util/log.js';

function usage(): never {
  process.stdout.write(`Usage: switchboard-gateway [--config FILE]

Environment overrides: SWITCHBOARD_CONFIG, SWITCHBOARD_HOST, SWITCHBOARD_ADVERTISED_HOST,
SWITCHBOARD_HTTP_PORT, SWITCHBOARD_SIP_PORT, SWITCHBOARD_TOKEN_SECRET, SWITCHBOARD_LOG_LEVEL.
`);
  process.exit(0);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--help' || args[i] === '-h') usage();
    else if (args[i] === '--config' || args[i] === '-c') file = args[++i];
    else {
      process.stderr.write(`switchboard-gateway: unknown argument "${args[i]}" (try --help)\n`);
      process.exit(2);
    }
  }
  let config;
  let demo = false;
  try {
    ({ config, demo } = loadConfigWithMode(file));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard-gateway: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const gw = createGateway(config);
  const addrs = await gw.start();
  log.info('gateway', `SIP on udp/${addrs.sipUdpPort} tcp/${addrs.sipTcpPort}${addrs.sipTlsPort ? ` tls/${addrs.sipTlsPort}` : ''}, WebSocket ${addrs.wsUrl}${addrs.wssUrl ? ` and ${addrs.wssUrl}` : ''}`);
  // Passwords are never printed or logged; the demo's are public and listed on its login page.
  const users = config.users.map((u) => `${u.username} (ext ${u.extension ?? '-'})`).join(', ') || 'none configured';
  const queues = config.queues.length ? `Queues: ${config.queues.map((q) => `${q.name}${q.extension ? ` (dial ${q.extension})` : ''}`).join(', ')}.\n` : '';
  if (demo) {
    log.warn('gateway', 'DEMO MODE: no configuration given, so the public demo accounts (alice, bob, carol, deskphone) are active. Never expose this gateway; start it with --config FILE for real use.');
  }
  process.stdout.write(`\nSwitchboard is running${demo ? ' in DEMO MODE' : ''}. Open ${addrs.httpUrl}${demo ? ' in two browser tabs' : ''}.\nUsers: ${users}. Echo test: dial ${config.echoExtensions[0] ?? '-'}.\n${queues}Call records: ${config.center.database}\n\n`);
  const shutdown = (sig: string) => {
    log.info('gateway', `${sig}: shutting down`);
    gw.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err) => {
  log.error('gateway', 'failed to start', err);
  process.exit(1);
});
