/**
 * Kamailio (Debian) as the PBX in trunk tests: test/kamailio/pbx.cfg with its ports filled in,
 * run in the foreground, started and stopped by PID; `stop()` + `start()` simulate an outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WORK } from './browser.js';
import { freePort } from './net.js';
import { testCertificate } from './tls.js';

const TEMPLATE = path.resolve(import.meta.dirname, '..', 'kamailio', 'pbx.cfg');

export class Kamailio {
  private proc?: ChildProcess;
  log = '';

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly tlsPort: number,
    private readonly dir: string,
    private readonly tls: boolean,
  ) {}

  /** Writes the configuration and starts Kamailio; resolves once it answers OPTIONS. */
  static async start(name: string, opts: { tls?: boolean; earlyMediaPort?: number } = {}): Promise<Kamailio> {
    const dir = path.join(WORK, `kamailio-${name}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const tlsPort = await freePort();
    const cert = testCertificate();
    const cfg = readFileSync(TEMPLATE, 'utf8').replaceAll('%PORT%', String(port)).replaceAll('%TLSPORT%', String(tlsPort)).replaceAll('%RUNDIR%', dir).replaceAll('%EARLYPORT%', String(opts.earlyMediaPort ?? 9));
    writeFileSync(path.join(dir, 'pbx.cfg'), cfg);
    if (opts.tls) {
      // "TLSv1.2+": with the default method every handshake failed on Debian 12's OpenSSL (TESTBED.md).
      writeFileSync(path.join(dir, 'tls.cfg'), [
        '[server:default]', 'method = TLSv1.2+', 'verify_certificate = no', 'require_certificate = no',
        `private_key = ${cert.keyFile}`, `certificate = ${cert.certFile}`, '',
        '[client:default]', 'method = TLSv1.2+', 'verify_certificate = no', 'require_certificate = no', '',
      ].join('\n'));
    }
    const k = new Kamailio(name, port, tlsPort, dir, !!opts.tls);
    await k.start();
    return k;
  }

  /** (Re)starts the process on the same ports. */
  async start(): Promise<void> {
    const args = ['-f', path.join(this.dir, 'pbx.cfg'), '-DD', '-E', '-m', '64', '-M', '16', '-Y', this.dir, '-P', path.join(this.dir, 'kamailio.pid')];
    if (this.tls) args.push('-A', 'WITH_TLS');
    const proc = spawn('kamailio', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    for (let i = 0; i < 100; i++) {
      if (proc.exitCode !== null) throw new Error(`kamailio ${this.name} exited (${proc.exitCode}):\n${this.log.slice(-3000)}`);
      if (await this.ping()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Not left running: the child would keep the test file's process from ever exiting.
    await this.stop();
    throw new Error(`kamailio ${this.name} did not answer OPTIONS:\n${this.log.slice(-3000)}`);
  }

  /** One OPTIONS over UDP; true if answered 200 within 300 ms. */
  private ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      const done = (ok: boolean) => {
        clearTimeout(t);
        s.close();
        resolve(ok);
      };
      const t = setTimeout(() => done(false), 300);
      s.on('message', (m) => done(m.toString('latin1').startsWith('SIP/2.0 200')));
      s.bind(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.send([
          `OPTIONS sip:127.0.0.1:${this.port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${p};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
          'Max-Forwards: 70', `From: <sip:probe@127.0.0.1>;tag=${p}`, `To: <sip:127.0.0.1:${this.port}>`, `Call-ID: probe-${p}-${Date.now()}`, 'CSeq: 1 OPTIONS',
          'Content-Length: 0', '', '',
        ].join('\r\n'), this.port, '127.0.0.1');
      });
    });
  }

  /** Stops the process (an outage); `start()` brings it back. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGTERM');
    await Promise.race([new Promise((r) => p.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
    if (p.exitCode === null) p.kill('SIGKILL');
    // Its children hold the sockets; give them a moment to go.
    await new Promise((r) => setTimeout(r, 300));
  }
}
