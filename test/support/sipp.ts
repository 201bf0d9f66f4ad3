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

