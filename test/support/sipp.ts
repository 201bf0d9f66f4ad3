/** Runs sipp (Debian's sip-tester) scenarios from test/sipp/ and reports how they ended. */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
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

/** Starts sipp with `args` (scenario names are resolved in test/sipp/). */
export function sipp(args: string[], timeoutMs = 40_000): SippRun {
  const full = args.map((a) => (a.endsWith('.xml') && !a.includes('/') ? path.join(SCENARIOS, a) : a));
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

/** A free UDP (and, in practice, TCP) port on loopback. */
export async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Waits until sipp (as UAS) has bound its port, so the first INVITE does not race its start. */
export async function settle(ms = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}
