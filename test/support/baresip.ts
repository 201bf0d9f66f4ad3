/**
 * A real SIP phone for interop tests: Debian's baresip, auto-answering, playing a tone WAV,
 * recording what it receives (sndfile), and driven over its ctrl_tcp netstring JSON socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { writeToneWav } from './audio.js';
import { WORK } from './browser.js';
import { freePort } from './net.js';

export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  [k: string]: unknown;
}

export interface BaresipOptions {
  name: string;
  /** User, password and the gateway's SIP UDP port. */
  user: string;
  password: string;
  gatewayPort: number;
  toneHz: number;
  /** Amplitude of the tone, 0..1 (default 0.5, about −9 dBFS). */
  toneAmplitude?: number;
  transport?: 'udp' | 'tcp' | 'tls';
  /** CA file that signs the gateway's TLS certificate (for transport 'tls'). */
  caFile?: string;
  /** Register the same user at these extra registrar ports too (UDP), e.g. a second PBX. */
  extraRegistrarPorts?: number[];
  /** `auto` (default): answers every call at once; `manual`: rings until {@link Baresip.command}('accept'). */
  answerMode?: 'auto' | 'manual';
}


/** A running baresip. */
export class Baresip {
  readonly events: BaresipEvent[] = [];
  private waiters: Array<{ pred: (e: BaresipEvent) => boolean; resolve: (e: BaresipEvent) => void }> = [];
  private ctrl?: net.Socket;
  private buf = Buffer.alloc(0);
  private token = 1;
  private pending = new Map<string, (r: { ok: boolean; data: string }) => void>();
  log = '';

  private constructor(
    readonly dir: string,
    readonly proc: ChildProcess,
    readonly sipPort: number,
  ) {}

  static async start(o: BaresipOptions): Promise<Baresip> {
    const dir = path.join(WORK, `baresip-${o.name}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.join(dir, 'rec'), { recursive: true });
    const tone = path.join(dir, 'tone.wav');
    writeToneWav(tone, o.toneHz, 60, 8000, o.toneAmplitude ?? 0.5);
    // baresip listens for SIP on UDP and TCP at sipPort and for TLS at sipPort + 1; the control
    // port must be neither (two freePort() calls can return the same port).
    let sipPort: number;
    do sipPort = await freePort();
    while (!(await tcpFree(sipPort + 1)));
    let ctrlPort: number;
    do ctrlPort = await freePort();
    while (ctrlPort === sipPort || ctrlPort === sipPort + 1);
    const transport = o.transport ?? 'udp';
    writeFileSync(
      path.join(dir, 'config'),
      [
        'poll_method epoll',
        `sip_listen 127.0.0.1:${sipPort}`,
        'net_interface 127.0.0.1',
        `audio_source aufile,${tone}`,
        'audio_player alsa,null',
        'audio_alert alsa,null',
        'audio_srate 8000',
        'audio_channels 1',
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module aufile.so',
        'module alsa.so',
        'module sndfile.so',
        'module ctrl_tcp.so',
        'module_app account.so',
        'module_app menu.so',
        `snd_path ${path.join(dir, 'rec')}`,
        `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
        'rtp_timeout 0',
        ...(o.caFile ? [`sip_cafile ${o.caFile}`] : []),
        '',
      ].join('\n'),
    );
    const account = (port: number, t: string) => `<sip:${o.user}@127.0.0.1:${port};transport=${t}>;auth_pass=${o.password};answermode=${o.answerMode ?? 'auto'};regint=600;audio_codecs=PCMA,PCMU\n`;
    writeFileSync(path.join(dir, 'accounts'), [account(o.gatewayPort, transport), ...(o.extraRegistrarPorts ?? []).map((p) => account(p, 'udp'))].join(''));
    const proc = spawn('baresip', ['-f', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
    const b = new Baresip(dir, proc, sipPort);
    proc.stdout!.on('data', (d: Buffer) => (b.log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (b.log += d.toString()));
    // Connect to the control socket once baresip has opened it.
    for (let i = 0; i < 100; i++) {
      try {
        await b.connectCtrl(ctrlPort);
        return b;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    proc.kill('SIGKILL');
    throw new Error(`baresip did not open its control port:\n${b.log}`);
  }

  private connectCtrl(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        this.ctrl = s;
        s.on('data', (d) => this.onData(d));
        resolve();
      });
      s.once('error', reject);
    });
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(':');
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString());
      if (this.buf.length < colon + 1 + len + 1) return;
      const json = JSON.parse(this.buf.subarray(colon + 1, colon + 1 + len).toString());
      this.buf = this.buf.subarray(colon + 2 + len);
      if (json.event) {
        this.events.push(json);
        for (const w of [...this.waiters]) if (w.pred(json)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(json);
        }
      } else if (json.response && json.token) {
        this.pending.get(String(json.token))?.({ ok: json.ok, data: json.data });
        this.pending.delete(String(json.token));
      }
    }
  }

  /** Sends a ctrl_tcp command (e.g. `dial`, `hangup`). */
  command(command: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const token = String(this.token++);
    const body = Buffer.from(JSON.stringify({ command, params, token }));
    this.ctrl!.write(`${body.length}:${body},`);
    return new Promise((resolve) => this.pending.set(token, resolve));
  }

  /** Resolves with the first past or future event matching `pred`. */
  waitEvent(pred: (e: BaresipEvent) => boolean, timeoutMs = 10_000): Promise<BaresipEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`baresip: no matching event in ${timeoutMs} ms; events: ${this.events.map((e) => e.type).join(', ')}\n${this.log.slice(-2000)}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }

  /** Recordings of received (decoded) audio, newest last. */
  receivedRecordings(): string[] {
    const rec = path.join(this.dir, 'rec');
    return readdirSync(rec).filter((f) => f.endsWith('-dec.wav')).sort().map((f) => path.join(rec, f));
  }

  async stop(): Promise<void> {
    this.ctrl?.destroy();
    if (this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => this.proc.once('exit', r)), new Promise((r) => setTimeout(r, 2000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** Whether a TCP port on 127.0.0.1 can be bound now. */
function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
