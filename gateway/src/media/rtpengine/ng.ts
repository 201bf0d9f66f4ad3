/**
 * A client for rtpengine's ng control protocol over UDP: each request is a cookie, a space and
 * a bencoded dictionary (`{command: 'offer', 'call-id': …}`); the reply repeats the cookie
 * (rtpengine docs, "The NG Control Protocol"). rtpengine caches replies by cookie, so a
 * retransmission with the same cookie is safe — it never runs a command twice.
 *
 * Written here rather than taken from npm: the ng clients on npm (`rtpengine-client`) are
 * callback-era, untyped and unmaintained; what we need is a retransmitting request/response over
 * one socket, ~100 lines with the bencode codec.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { bdecode, bencode, type BValue } from './bencode.js';

/** A dictionary as rtpengine sends it. */
export type NgReply = Record<string, BValue>;

/** rtpengine answered `result: error` (with its reason), or did not answer at all. */
export class NgError extends Error {
  override name = 'NgError';
  constructor(
    message: string,
    /** True when rtpengine did not answer in time (it may be down). */
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** Options of {@link NgClient}. */
export interface NgClientOptions {
  /** Time to wait for a reply before retransmitting (ms; default 500). */
  retransmitMs?: number;
  /** Attempts in all (default 3): a request fails after attempts × retransmitMs. */
  attempts?: number;
}

/** One rtpengine's ng port. */
export class NgClient {
  private socket?: dgram.Socket;
  private ready?: Promise<dgram.Socket>;
  private readonly pending = new Map<string, { resolve: (r: NgReply) => void; reject: (e: Error) => void }>();
  private readonly retransmitMs: number;
  private readonly attempts: number;
  /** Commands sent since start, by command (`offer`, `answer`, `query`, …; retransmissions not counted). */
  readonly sent: Record<string, number> = {};

  constructor(
    /** `host:port` of rtpengine's `listen-ng`. */
    readonly address: string,
    opts: NgClientOptions = {},
  ) {
    this.retransmitMs = opts.retransmitMs ?? 500;
    this.attempts = opts.attempts ?? 3;
    const m = /^(.+):(\d+)$/.exec(address);
    if (!m) throw new Error(`media.rtpengine: "${address}" is not host:port`);
  }

  private open(): Promise<dgram.Socket> {
    this.ready ??= new Promise((resolve, reject) => {
      const [, host] = /^(.+):(\d+)$/.exec(this.address)!;
      const s = dgram.createSocket(host!.includes(':') ? 'udp6' : 'udp4');
      s.on('message', (msg) => this.onMessage(msg));
      s.once('error', reject);
      s.bind(0, () => {
        s.off('error', reject);
        s.on('error', () => undefined); // ICMP port unreachable etc.: the request times out
        this.socket = s;
        resolve(s);
      });
    });
    return this.ready;
  }

  private onMessage(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    if (space <= 0) return;
    const cookie = msg.toString('latin1', 0, space);
    const p = this.pending.get(cookie);
    if (!p) return; // a late duplicate
    this.pending.delete(cookie);
    try {
      const reply = bdecode(msg.subarray(space + 1));
      if (!reply || typeof reply !== 'object' || Array.isArray(reply) || Buffer.isBuffer(reply)) throw new Error('the reply is not a dictionary');
      const r = reply as NgReply;
      // Every reply has a result (ok, pong, error…). A dictionary without one is not rtpengine's:
      // our own request echoed — another program on that port, or this socket's own port when
      // rtpengine is not listening there (a client bound to an ephemeral port can get the very port).
      if (r.result === undefined) return p.reject(new NgError(`rtpengine ${this.address}: a reply without a result${r.command !== undefined ? ' (the request itself came back: is rtpengine listening there?)' : ''}`));
      if (r.result === 'error') return p.reject(new NgError(`rtpengine ${this.address}: ${String(r['error-reason'] ?? 'error')}`));
      p.resolve(r);
    } catch (err) {
      p.reject(new NgError(`rtpengine ${this.address}: malformed reply (${(err as Error).message})`));
    }
  }

  /** Sends one command; resolves with the reply (`result` is `ok` or `pong`), rejects with {@link NgError}. */
  async request(command: string, params: Record<string, BValue | undefined> = {}): Promise<NgReply> {
    const s = await this.open();
    const [, host, port] = /^(.+):(\d+)$/.exec(this.address)!;
    const cookie = randomBytes(8).toString('hex');
    const packet = Buffer.concat([Buffer.from(cookie + ' '), bencode({ ...params, command })]);
    this.sent[command] = (this.sent[command] ?? 0) + 1;
    return new Promise<NgReply>((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout;
      const send = () => {
        if (tries++ >= this.attempts) {
          this.pending.delete(cookie);
          return reject(new NgError(`rtpengine ${this.address} did not answer ${command} (${this.attempts} × ${this.retransmitMs} ms)`, true));
        }
        s.send(packet, Number(port), host!.replace(/^\[|\]$/g, ''));
        timer = setTimeout(send, this.retransmitMs);
      };
      this.pending.set(cookie, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      send();
    });
  }

  /** Closes the socket; pending requests fail. */
  close(): void {
    for (const p of this.pending.values()) p.reject(new NgError(`rtpengine ${this.address}: client closed`));
    this.pending.clear();
    this.socket?.close();
    delete this.socket;
    delete this.ready;
  }
}
