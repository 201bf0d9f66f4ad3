/**
 * The gateway as operators run it: the built CLI (`gateway/dist/cli.js --config FILE`) in its own
 * process, for tests of signals, crashes and restarts. Its output is kept for assertions (and for
 * the "no password in the logs" check).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WORK } from './browser.js';

const CLI = path.resolve(import.meta.dirname, '..', '..', 'gateway', 'dist', 'cli.js');
/** Every spawned gateway's output is appended here too (the log check greps it). */
export const PROCESS_LOG = path.join(WORK, 'gateway-processes.log');

export class GatewayProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly proc: ChildProcess, readonly httpUrl: string) {
    proc.stdout!.on('data', (d: Buffer) => this.take(d));
    proc.stderr!.on('data', (d: Buffer) => this.take(d));
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  private take(d: Buffer): void {
    this.output += d.toString();
    appendFileSync(PROCESS_LOG, d);
  }

  /** Writes `config` to a file and starts the CLI on it; resolves once `/api/health` answers. */
  static async start(name: string, config: Record<string, unknown> & { http: { port: number } }, env: NodeJS.ProcessEnv = {}, opts: { nofile?: number } = {}): Promise<GatewayProcess> {
    const dir = path.join(WORK, `gwproc-${name}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    // A file-descriptor limit of its own (prlimit, util-linux), as a modest production box might have.
    const [cmd, args] = opts.nofile ? ['prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, process.execPath, CLI, '--config', file]] : [process.execPath, [CLI, '--config', file]];
    const proc = spawn(cmd as string, args as string[], { env: { ...process.env, SWITCHBOARD_LOG_FORMAT: 'text', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const g = new GatewayProcess(proc, `http://127.0.0.1:${config.http.port}/`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`gateway ${name} exited (${proc.exitCode}):\n${g.output.slice(-3000)}`);
      const ok = await fetch(new URL('/api/health', g.httpUrl), { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
      if (ok) return g;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`gateway ${name} did not become healthy:\n${g.output.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async health(): Promise<{ status: string; calls: number; dialogs: number }> {
    const res = await fetch(new URL('/api/health', this.httpUrl), { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as never;
  }

  /** Stops it for good (SIGKILL if it does not exit on SIGTERM within 10 s). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}
