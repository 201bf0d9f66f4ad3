/**
 * rtpengine (Debian `rtpengine-daemon`) for tests: userspace only (`--table=-1`, no kernel
 * module here), on loopback, its ng port and a media port range of its own; started in the
 * foreground and stopped (or killed, for the failure tests) by PID. `SWITCHBOARD_TEST_MEDIA=
 * rtpengine` makes {@link startGateway} run every test gateway on one (the engine matrix of
 * `npm test`). `RTPENGINE_LOG_LEVEL` (default 5) sets its log level, e.g. 6 to see each DTLS and
 * offer/answer step in `log` when diagnosing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { NgClient } from '../../gateway/src/media/rtpengine/ng.js';
import { WORK } from './browser.js';
import { freePort } from './net.js';

/** Whether this run's gateways use rtpengine (the second leg of the engine matrix). */
export const TEST_ENGINE: 'werift' | 'rtpengine' = process.env.SWITCHBOARD_TEST_MEDIA === 'rtpengine' ? 'rtpengine' : 'werift';

let instances = 0;
/** Every rtpengine started by this test process: killed when it exits, even after a failed test. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export class Rtpengine {
  private proc?: ChildProcess;
  log = '';

  private constructor(
    readonly ngPort: number,
    private readonly portMin: number,
    private readonly portMax: number,
    /** Where rtpengine sends its DTMF log (`--dtmf-log-dest`): the gateway's `media.rtpengineDtmfLog`. */
    readonly dtmfLogPort: number,
  ) {}

  /** `host:port` rtpengine sends detected digits to. */
  get dtmfLog(): string {
    return `127.0.0.1:${this.dtmfLogPort}`;
  }

  /** `host:port` of its ng control port. */
  get address(): string {
    return `127.0.0.1:${this.ngPort}`;
  }

  /**
   * Starts one (with `ports` media ports, 400 by default); resolves when it answers an ng ping.
   * A start that fails is retried on fresh ports (twice), in case a port was taken between
   * {@link freePort} and rtpengine's bind.
   */
  static async start(ports = 400): Promise<Rtpengine> {
    mkdirSync(WORK, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      // Media ports: a block of 400 per instance, away from the ephemeral ports the tests use.
      const n = instances++ % 20;
      // Even: rtpengine takes an even RTP port and the odd one above it for RTCP, so a block of
      // `ports` holds exactly `ports / 2` pairs whatever this process's PID.
      const base = 20000 + (((process.pid * 7 + n * 400) % 8000) & ~1);
      const r = new Rtpengine(await freePort(), base, base + Math.min(400, ports) - 1, await freePort());
      try {
        await r.run();
        return r;
      } catch (err) {
        if (attempt >= 3) throw err;
        console.log(`# rtpengine start ${attempt} failed, retrying on other ports: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }

  /**
   * (Re)starts the process on the same ports and waits (up to 15 s) for it to answer a ping. If
   * it does not, the process is killed before this throws: a leftover child would keep the test
   * file's process (and so the whole run) from ever exiting.
   */
  async run(): Promise<void> {
    const args = [
      // Not Debian's /etc/rtpengine/rtpengine.conf (its HTTP and CLI ports would collide between instances).
      '--config-file=none', '--foreground', '--table=-1', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${this.ngPort}`, `--port-min=${this.portMin}`, `--port-max=${this.portMax}`,
      '--log-stderr', `--log-level=${process.env.RTPENGINE_LOG_LEVEL ?? 5}`, '--num-threads=2', '--delete-delay=0', '--timeout=120', `--dtmf-log-dest=127.0.0.1:${this.dtmfLogPort}`, `--pidfile=${path.join(WORK, `rtpengine-${this.ngPort}.pid`)}`,
    ];
    const proc = spawn('rtpengine', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-200_000)));
    this.proc = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    const ng = new NgClient(this.address, { retransmitMs: 100, attempts: 1 });
    const t0 = Date.now();
    let last = 'no reply';
    try {
      for (let tries = 1; ; tries++) {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`rtpengine exited (${proc.exitCode ?? proc.signalCode}):\n${this.log.slice(-3000)}`);
        try {
          const reply = await ng.request('ping');
          if (reply.result === 'pong') return;
          last = `replied ${JSON.stringify(reply)}`;
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() - t0 > 15_000) throw new Error(`rtpengine did not answer on ${this.address} (${tries} pings in ${Date.now() - t0} ms; the last: ${last}):\n${this.log.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (err) {
      await this.kill();
      throw err;
    } finally {
      ng.close();
    }
  }

  /**
   * What rtpengine holds now, for a failure message: every call's tags (what rtpengine says of each:
   * label, dialogue, subscriptions…), and each stream's ports, SSRC and last packet (ng `list` and `query`).
   */
  async dump(): Promise<string> {
    const ng = new NgClient(this.address, { retransmitMs: 300, attempts: 3 });
    const text = (v: unknown): unknown =>
      Buffer.isBuffer(v) ? v.toString('latin1') : Array.isArray(v) ? v.map(text) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, text(x)])) : v;
    try {
      const calls = ((await ng.request('list', { limit: 20 })).calls ?? []) as unknown[];
      const out: string[] = [];
      for (const id of calls.map((c) => String(text(c)))) {
        const q = text(await ng.request('query', { 'call-id': id })) as { tags?: Record<string, { medias?: Array<{ streams?: Array<Record<string, unknown>> }> }> };
        for (const [tag, t] of Object.entries(q.tags ?? {})) {
          const streams = (t.medias ?? []).flatMap((m) => m.streams ?? []).map((st) => {
            const ep = st.endpoint as { port?: number } | undefined;
            const adv = st['advertised endpoint'] as { port?: number } | undefined;
            return `local ${String(st['local port'])} peer ${ep?.port ?? '-'}/${adv?.port ?? '-'} ssrc ${String(st.SSRC ?? '-')} last ${String(st['last packet'] ?? '-')} [${String(st.flags ?? '')}]`;
          });
          const { medias: _m, ...rest } = t as Record<string, unknown>;
          out.push(`${id} ${tag} ${JSON.stringify(rest).slice(0, 400)}: ${streams.join('; ')}`);
        }
      }
      return out.join('\n');
    } catch (err) {
      return `(no dump: ${(err as Error).message})`;
    } finally {
      ng.close();
    }
  }

  /** Kills it at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  /** Stops it (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}
