/** Runs sipp (Debian's sip-tester) scenarios from test/sipp/ and reports how they ended. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WORK } from './browser.js';

export const SCENARIOS = path.resolve(import.meta.dirname, '..', 'sipp');

export interface SippRun {
  /** Resolves when sipp exits: 0 = every call succeeded. */
  done: Promise<{ code: number | null; out: string }>;
  proc: ChildProcess;
}

let runs = 0;

/**
 * sipp computes its digest over `sip:remote_ip:remote_port` unless told otherwise; the gateway
 * binds the digest uri to the Request-URI (RFC 2617 §3.2.2.5), as real phones expect. For
 * scenarios whose INVITE goes to `sip:[service]@[remote_ip]:[remote_port]`, pass that as
 * `-auth_uri` (what a phone would have used).
 */
function withAuthUri(full: string[]): string[] {
  if (!full.includes('-au') || full.includes('-auth_uri')) return full;
  const remote = full.find((a) => /^[\d.]+:\d+$/.test(a));
  const sf = full[full.indexOf('-sf') + 1];
  const s = full.indexOf('-s') >= 0 ? full[full.indexOf('-s') + 1] : undefined;
  if (!remote || !sf || !s || !existsSync(sf)) return full;
  const text = readFileSync(sf, 'utf8');
  if (!text.includes('INVITE sip:[service]@[remote_ip]:[remote_port]')) return full;
  return [...full, '-auth_uri', `${s}@${remote}`]; // sipp adds the "sip:"
}

/** Starts sipp with `args` (scenario names are resolved in test/sipp/). */
export function sipp(args: string[], timeoutMs = 40_000): SippRun {
  const full = withAuthUri(args.map((a) => (a.endsWith('.xml') && !a.includes('/') ? path.join(SCENARIOS, a) : a)));
  const errFile = path.join(WORK, `sipp-${process.pid}-${++runs}-errors.log`);
  const proc = spawn('sipp', [...full, '-nostdin', '-timeout_error', '-trace_err', '-error_file', errFile], { cwd: WORK, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; out: string }>((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(t);
      // sipp's own account of what went wrong (unexpected message, timeout, …) comes first.
      const errors = existsSync(errFile) ? readFileSync(errFile, 'utf8') : '';
      resolve({ code, out: errors ? `${errors.slice(-4000)}\n---\n${out.slice(-1500)}` : out });
    });
  });
  return { done, proc };
}

