/**
 * A UDP relay between a SIP client and a server that can drop chosen datagrams — deterministic
 * packet loss for retransmission tests. The client side is learned from the first datagram that
 * reaches `port`; everything the server sends comes back out of that same socket, so both
 * peers see one stable address (the relay's) as they would a NAT.
 */
import dgram from 'node:dgram';

/** `down`: client → server; `up`: server → client. */
export type Direction = 'to-server' | 'to-client';

/** One datagram the relay saw. */
export interface Seen {
  dir: Direction;
  /** First line: "INVITE sip:…" or "SIP/2.0 200 OK". */
  line: string;
  /** CSeq method. */
  method: string;
  dropped: boolean;
  at: number;
}

export class UdpRelay {
  readonly seen: Seen[] = [];
  private readonly front = dgram.createSocket('udp4');
  private readonly back = dgram.createSocket('udp4');
  private client?: { address: string; port: number };

  private constructor(
    private readonly server: { host: string; port: number },
    private readonly drop: (s: Omit<Seen, 'dropped' | 'at'>, n: number) => boolean,
  ) {}

  /** Starts a relay in front of `server`; `drop` decides per datagram (n = how many like it came before). */
  static async start(server: { host: string; port: number }, drop: (s: Omit<Seen, 'dropped' | 'at'>, n: number) => boolean = () => false): Promise<UdpRelay> {
    const r = new UdpRelay(server, drop);
    await Promise.all([
      new Promise<void>((res) => r.front.bind(0, '127.0.0.1', res)),
      new Promise<void>((res) => r.back.bind(0, '127.0.0.1', res)),
    ]);
    r.front.on('message', (msg, rinfo) => {
      r.client = { address: rinfo.address, port: rinfo.port };
      if (r.pass(msg, 'to-server')) r.back.send(msg, r.server.port, r.server.host);
    });
    r.back.on('message', (msg) => {
      if (r.client && r.pass(msg, 'to-client')) r.front.send(msg, r.client.port, r.client.address);
    });
    return r;
  }

  /** The port clients send to. */
  get port(): number {
    return this.front.address().port;
  }

  private pass(msg: Buffer, dir: Direction): boolean {
    const text = msg.toString('latin1');
    const line = text.slice(0, text.indexOf('\r\n'));
    const method = /\r\n(?:CSeq|cseq):\s*\d+\s+([A-Z]+)/i.exec(text)?.[1] ?? '';
    const base = { dir, line, method };
    const n = this.seen.filter((s) => s.dir === dir && s.line === line && s.method === method).length;
    const dropped = this.drop(base, n);
    this.seen.push({ ...base, dropped, at: performance.now() });
    return !dropped;
  }

  /** Datagrams matching a first-line prefix in one direction. */
  count(dir: Direction, linePrefix: string, method?: string): Seen[] {
    return this.seen.filter((s) => s.dir === dir && s.line.startsWith(linePrefix) && (!method || s.method === method));
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}
