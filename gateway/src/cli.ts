#!/usr/bin/env node
/**
 * `switchboard-gateway [--config FILE]`: starts the gateway. With no configuration it runs the
 * built-in demo (demo users, echo test on 600) on 127.0.0.1.
 *
 * `switchboard-gateway hash-password [--user NAME --realm REALM]`: reads a password from standard
 * input and prints the config values for it — an scrypt hash for `password`, and with a user
 * and realm the digest HA1 values SIP devices need (`digestHa1`).
 */
import { ConfigError, loadConfigWithMode } from './config.js';
import { createGateway } from './gateway.js';
import { log } from './util/log.js';
import { hashPassword } from './util/passwords.js';
import { digestHa1 } from './sip/digest.js';

function usage(): never {
  process.stdout.write(`Usage: switchboard-gateway [--config FILE]
       switchboard-gateway hash-password [--user NAME --realm REALM] < password-file

Environment overrides: SWITCHBOARD_CONFIG, SWITCHBOARD_HOST, SWITCHBOARD_ADVERTISED_HOST,
SWITCHBOARD_HTTP_PORT, SWITCHBOARD_SIP_PORT, SWITCHBOARD_TOKEN_SECRET, SWITCHBOARD_LOG_LEVEL.
`);
  process.exit(0);
}

/** Reads the password (first line of standard input) and prints the configuration values. */
async function hashPasswordCommand(args: string[]): Promise<void> {
  let user: string | undefined;
  let realm: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--user') user = args[++i];
    else if (args[i] === '--realm') realm = args[++i];
    else {
      process.stderr.write(`switchboard-gateway hash-password: unknown argument "${args[i]}"\n`);
      process.exit(2);
    }
  }
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter): ');
  let input = '';
  for await (const chunk of process.stdin) {
    input += String(chunk);
    if (input.includes('\n')) break;
  }
  const password = input.split(/\r?\n/)[0] ?? '';
  if (password.length < 6) {
    process.stderr.write('switchboard-gateway hash-password: the password must be at least 6 characters\n');
    process.exit(2);
  }
  const out: Record<string, unknown> = { password: hashPassword(password) };
  if (user && realm) out.digestHa1 = { MD5: digestHa1('MD5', user, realm, password), 'SHA-256': digestHa1('SHA-256', user, realm, password) };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  if (!(user && realm)) process.stderr.write('Note: SIP devices (digest) need --user and --realm too, for digestHa1.\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'hash-password') return hashPasswordCommand(args.slice(1));
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
  // SIGTERM/SIGINT: drain (no new calls, calls may finish for shutdown.drainSeconds), then stop
  // and exit 0. A second signal exits at once.
  let signals = 0;
  const shutdown = (sig: string) => {
    if (++signals > 1) {
      log.warn('gateway', `${sig} again: exiting now`);
      process.exit(1);
    }
    log.info('gateway', `${sig}: draining, then shutting down (send ${sig} again to exit at once)`);
    const hard = setTimeout(() => {
      log.error('gateway', 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, (config.shutdown.drainSeconds + 15) * 1000);
    hard.unref();
    gw.drain().then(() => process.exit(0), (err: Error) => {
      log.error('gateway', 'shutdown failed', err);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err) => {
  log.error('gateway', 'failed to start', err);
  process.exit(1);
});
