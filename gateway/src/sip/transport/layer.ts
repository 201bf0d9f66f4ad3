/**
 * The transport layer (RFC 3261 §18): UDP, TCP, TLS (§26.2) and WebSocket (RFC 7118) flows, parsing with
 * limits, `received`/`rport` stamping (§18.2.1, RFC 3581), response routing (§18.2.2) and
 * 400 answers for malformed requests. It reports upward through `onMessage` only.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { WebSocket } from 'ws';
import { log } from '../../util/log.js';
import { formatVia, parseVia } from '../headers.js';
import { createResponse, type SipMessage, type SipRequest, type SipResponse } from '../message.js';
import { DEFAULT_LIMITS, parseMessage, StreamFramer, type ParserLimits } from '../parser.js';
import { TransportError, type FlowAuth, type MessageSender, type Source, type Target, type TransportName } from './types.js';
import type { ConnectionPool, Ticket } from '../../util/admission.js';

/** An open path to a peer: a connection, or the UDP socket plus an address. */
interface Flow {
  id: string;
  transport: TransportName;
  address: string;
  port: number;
  auth?: FlowAuth;
  /** Its place under the connection caps (inbound connections). */
  ticket?: Ticket;
  send(data: Buffer): Promise<void>;
  /** Closes the flow; resolves once its socket is gone (at most ~1 s: a peer that does not answer the close is cut). */
  close(): Promise<void>;
}

/** Options for {@link TransportLayer}. */
export interface TransportOptions {
  /** Address to bind listeners to. */
  bindHost: string;
  /** Host to advertise in Via/Contact (a public name or address). */
  advertisedHost: string;
  limits?: ParserLimits;
  /** Close stream connections idle this long (ms); default 10 minutes. */
  idleTimeoutMs?: number;
  /**
   * A message begun on a TCP/TLS connection must be complete within this long (ms, default 10 s):
   * a slow drip of bytes does not keep a connection (and its fd) for ever.
   */
  messageTimeoutMs?: number;
  /** A TLS client must finish its handshake within this long (ms, default 10 s). */
  handshakeTimeoutMs?: number;
  /** Admission of inbound TCP/TLS connections (per-address cap, global cap); unlimited when absent. */
  pool?: ConnectionPool;
  /** Receive and send buffer to ask the kernel for on the SIP UDP socket (default 4 MB). */
  udpBufferBytes?: number;
  /** For outbound TLS: verify the peer's certificate (default true) against these CAs (PEM). */
  tlsClient?: { verify?: boolean; ca?: string | Buffer };
  /** Screens sources and requests before they reach the transaction layer (rate limits, bans). */
  guard?: IngressGuard;
}

/** What the transport layer asks of the abuse guard ({@link SourceGuard} implements it). */
export interface IngressGuard {
  /** False: a banned source (dropped unparsed, but for its dialogs and credentialed requests). */
  accepts(source: Source): boolean;
  /** Anything but 'ok' drops the request without an answer (a scanner). */
  check(req: SipRequest, source: Source): string;
}

/** Whether raw SIP bytes carry an Authorization or Proxy-Authorization header (checked before parsing). */
function carriesCredentials(data: Buffer): boolean {
  const head = data.subarray(0, Math.min(data.length, 8192)).toString('latin1');
  return /\r\n(?:proxy-)?authorization\s*:/i.test(head);
}

/** Counters exposed as metrics. */
export interface TransportStats {
  received: number;
  sent: number;
  malformed: number;
  answered400: number;
  /** Inbound connections refused by a connection cap. */
  refusedConnections: number;
  /** Stream connections closed for idleness. */
  idleClosed: number;
  /** Stream connections closed because a message did not complete in time (slow drip). */
  slowClosed: number;
}

/** The gateway's SIP transport layer. */
export class TransportLayer implements MessageSender {
  /** Receives every well-formed message. */
  onMessage?: (msg: SipMessage, source: Source) => void;
  /** Called when a flow closes (the registrar drops bindings that used it). */
  onFlowClosed?: (flowId: string) => void;
  /**
   * Whether an address is the peer of a live dialog. A banned source's requests inside such a
   * dialog (its BYE, a re-INVITE) and its responses still get through: a ban must not leave calls
   * up for ever because their BYEs are dropped.
   */
  hasDialogsWith?: (address: string) => boolean;
  readonly stats: TransportStats = { received: 0, sent: 0, malformed: 0, answered400: 0, refusedConnections: 0, idleClosed: 0, slowClosed: 0 };

  private udp?: dgram.Socket;
  private readonly servers: net.Server[] = [];
  /** TLS connections admitted at TCP accept, before their handshake: address:port → ticket. */
  private readonly handshaking = new Map<string, Ticket>();
  private readonly flows = new Map<string, Flow>();
  private readonly ports = new Map<TransportName, number>();
  private nextFlow = 1;
  private readonly connecting = new Map<string, Promise<Flow>>();
  private readonly limits: ParserLimits;

  constructor(private readonly opts: TransportOptions) {
    this.limits = opts.limits ?? DEFAULT_LIMITS;
  }

  /**
   * Starts the UDP listener; returns the bound port. The socket asks for `udpBufferBytes` of
   * receive and send buffer: the kernel's default (~212 KB) overflows at a few hundred calls per
   * second and drops datagrams silently (Kamailio asks for 512 KB; we default to 4 MB). The
   * kernel caps the request at net.core.rmem_max / wmem_max — a smaller grant is logged with the
   * sysctl to raise it, and the kernel's drop counter for the socket is in {@link udpStatus}.
   */
  async listenUdp(port: number): Promise<number> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, this.opts.bindHost, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.on('error', (err) => log.error('sip.udp', 'socket error', err));
    const want = this.opts.udpBufferBytes ?? 4 * 1024 * 1024;
    try {
      sock.setRecvBufferSize(want);
      sock.setSendBufferSize(want);
    } catch (err) {
      log.warn('sip.udp', `cannot set the UDP buffer size: ${(err as Error).message}`);
    }
    // Linux reports twice the usable size it granted (it counts its own bookkeeping).
    const granted = sock.getRecvBufferSize() / 2;
    if (granted < want) log.warn('sip.udp', `the kernel granted a ${Math.round(granted / 1024)} KB UDP receive buffer, not ${Math.round(want / 1024)} KB: raise it with "sysctl -w net.core.rmem_max=${want * 2} net.core.wmem_max=${want * 2}" or datagrams will be dropped under load`);
    sock.on('message', (data, rinfo) => {
      this.receive(data, { transport: 'UDP', address: rinfo.address, port: rinfo.port, flowId: 'udp' });
    });
    this.udp = sock;
    const bound = sock.address().port;
    this.ports.set('UDP', bound);
    return bound;
  }

  /** Starts the TCP listener; returns the bound port. */
  listenTcp(port: number): Promise<number> {
    const server = net.createServer({ noDelay: true }, (socket) => {
      const ticket = this.admit(socket);
      if (ticket) this.adoptStream(socket, 'TCP', ticket);
    });
    return this.listenStream('TCP', server, port);
  }

  /**
   * Starts the TLS listener (RFC 3261 §26.2, sips: and transport=tls) with a PEM certificate and
   * key. Connections are admitted at TCP accept — before the handshake, so sockets that never
   * send a ClientHello count against the caps — and must finish the handshake in time.
   */
  listenTls(port: number, credentials: { cert: string | Buffer; key: string | Buffer }): Promise<number> {
    const server = tls.createServer({ ...credentials, minVersion: 'TLSv1.2', handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000 }, (socket) => {
      const k = `${socket.remoteAddress}:${socket.remotePort}`;
      const ticket = this.handshaking.get(k);
      this.handshaking.delete(k);
      if (!ticket) {
        socket.destroy();
        return;
      }
      this.adoptStream(socket, 'TLS', ticket);
    });
    server.on('connection', (raw: net.Socket) => {
      const ticket = this.admit(raw);
      if (!ticket) return;
      const k = `${raw.remoteAddress}:${raw.remotePort}`;
      this.handshaking.set(k, ticket);
      // Node's handshakeTimeout does not cover a socket that never sends a ClientHello: this does.
      const deadline = setTimeout(() => {
        if (this.handshaking.has(k)) raw.destroy();
      }, this.opts.handshakeTimeoutMs ?? 10_000);
      deadline.unref();
      raw.once('close', () => {
        clearTimeout(deadline);
        ticket.release();
        this.handshaking.delete(k);
      });
    });
    // Handshake failures and timeouts (scanners, wrong certificates, silent sockets): the
    // client's problem; log and go on (the socket is closed, its place freed).
    server.on('tlsClientError', (err, socket) => log.debug('sip.tls', `handshake with ${socket.remoteAddress} failed: ${err.message}`));
    return this.listenStream('TLS', server, port);
  }

  /** Admits an inbound connection under the caps, or closes it. */
  private admit(socket: net.Socket): Ticket | undefined {
    const pool = this.opts.pool;
    if (!pool) return { release: () => undefined, exempt: () => undefined };
    const ticket = pool.admit((socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
    if (!ticket) {
      this.stats.refusedConnections++;
      socket.destroy();
      return undefined;
    }
    socket.once('close', () => ticket.release());
    return ticket;
  }

  private async listenStream(transport: TransportName, server: net.Server, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.bindHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error(`sip.${transport.toLowerCase()}`, 'listener error', err));
    this.servers.push(server);
    const bound = (server.address() as net.AddressInfo).port;
    this.ports.set(transport, bound);
    return bound;
  }

  /** Declares the port WebSocket clients reach us on (the HTTP server owns the socket). */
  setWebSocketPort(port: number, secure = false): void {
    this.ports.set(secure ? 'WSS' : 'WS', port);
  }

  /**
   * A TCP or TLS connection, inbound (with its admission ticket) or outbound: framing, keep-alive
   * pongs, the idle timeout, and the message deadline (a message begun must complete in time).
   */
  private adoptStream(socket: net.Socket, transport: 'TCP' | 'TLS', ticket?: Ticket): Flow {
    const id = `${transport.toLowerCase()}-${this.nextFlow++}`;
    const framer = new StreamFramer(this.limits);
    const flow: Flow = {
      id,
      transport,
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
      send: (data) =>
        new Promise((resolve, reject) => {
          if (socket.destroyed) return reject(new TransportError(`${transport} connection closed`));
          socket.write(data, (err) => (err ? reject(new TransportError(err.message)) : resolve()));
        }),
      close: () =>
        new Promise<void>((resolve) => {
          if (socket.destroyed) return resolve();
          socket.once('close', () => resolve());
          socket.destroy();
        }),
    };
    if (ticket) flow.ticket = ticket;
    this.flows.set(id, flow);
    const tag = `sip.${transport.toLowerCase()}`;
    let deadline: NodeJS.Timeout | undefined;
    const messageMs = this.opts.messageTimeoutMs ?? 10_000;
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeoutMs ?? 600_000, () => {
      this.stats.idleClosed++;
      log.info(tag, `closing idle connection ${flow.address}:${flow.port}`);
      socket.destroy();
    });
    socket.on('data', (chunk) => {
      const { messages, pings, error } = framer.push(chunk);
      // RFC 5626 §3.5.1 / §4.4.1: a double-CRLF ping gets a single-CRLF pong.
      for (let i = 0; i < pings; i++) socket.write('\r\n');
      for (const m of messages) this.receive(m, { transport, address: flow.address, port: flow.port, flowId: id });
      if (error) {
        log.warn(tag, `closing ${flow.address}:${flow.port}: ${error}`);
        this.stats.malformed++;
        socket.destroy();
        return;
      }
      // The deadline runs from the first byte of a message to its last; more bytes do not reset it.
      if (framer.pending && !deadline) {
        deadline = setTimeout(() => {
          this.stats.slowClosed++;
          log.warn(tag, `closing ${flow.address}:${flow.port}: a message did not complete within ${messageMs / 1000} s`);
          socket.destroy();
        }, messageMs);
        deadline.unref();
      } else if (!framer.pending && deadline) {
        clearTimeout(deadline);
        deadline = undefined;
      }
    });
    socket.on('close', () => clearTimeout(deadline));
    socket.on('error', (err) => log.debug(tag, `socket error ${flow.address}:${flow.port}: ${err.message}`));
    socket.on('close', () => this.dropFlow(id));
    return flow;
  }

  /**
   * Adopts an upgraded WebSocket (RFC 7118). Each frame carries exactly one message (§5);
   * `auth` is the identity proven at the upgrade, if any.
   */
  attachWebSocket(ws: WebSocket, address: string, port: number, auth?: FlowAuth, secure = false, ticket?: Ticket): string | undefined {
    const id = `ws-${this.nextFlow++}`;
    const transport: TransportName = secure ? 'WSS' : 'WS';
    const flow: Flow = {
      id,
      transport,
      address,
      port,
      send: (data) =>
        new Promise((resolve, reject) => {
          if (ws.readyState !== ws.OPEN) return reject(new TransportError('WebSocket closed'));
          ws.send(data.toString('utf8'), (err) => (err ? reject(new TransportError(err.message)) : resolve()));
        }),
      // 1001 Going Away: the SDK reconnects (to this gateway restarted, or another behind the same name).
      close: () =>
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve();
          const cut = setTimeout(() => ws.terminate(), 500);
          ws.once('close', () => {
            clearTimeout(cut);
            resolve();
          });
          ws.close(1001, 'Gateway closing');
        }),
    };
    if (auth) flow.auth = auth;
    if (ticket) flow.ticket = ticket;
    this.flows.set(id, flow);
    // Idle detection: a ping every half idle period; no pong (and no message) by the next one closes it.
    let alive = true;
    const idleMs = this.opts.idleTimeoutMs ?? 600_000;
    const heartbeat = setInterval(() => {
      if (!alive) {
        this.stats.idleClosed++;
        log.info('sip.ws', `closing unresponsive ${id} from ${address}:${port}`);
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, idleMs / 2);
    heartbeat.unref();
    ws.on('pong', () => (alive = true));
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      alive = true;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const source: Source = { transport, address, port, flowId: id };
      if (auth) source.auth = auth;
      this.receive(buf, source);
    });
    ws.on('close', () => {
      clearInterval(heartbeat);
      this.dropFlow(id);
    });
    ws.on('error', (err) => log.debug('sip.ws', `error on ${id}: ${err.message}`));
    return id;
  }

  flowAuthenticated(source: Source): void {
    this.flows.get(source.flowId)?.ticket?.exempt();
  }

  private dropFlow(id: string): void {
    if (this.flows.delete(id)) this.onFlowClosed?.(id);
  }

  /**
   * The UDP socket's buffers and the kernel's count of datagrams it dropped for it (full receive
   * buffer) — from /proc/self/net/udp, the `drops` column; undefined where the kernel does not say.
   */
  udpStatus(): { receiveBufferBytes: number; sendBufferBytes: number; kernelDrops: number | undefined } | undefined {
    const sock = this.udp;
    if (!sock) return undefined;
    return { receiveBufferBytes: sock.getRecvBufferSize(), sendBufferBytes: sock.getSendBufferSize(), kernelDrops: udpKernelDrops(sock.address().port) };
  }

  /** Whether a flow is still open. */
  hasFlow(id: string): boolean {
    return id === 'udp' ? !!this.udp : this.flows.has(id);
  }

  /** @internal Takes one message as if it arrived on `source` (every listener calls this; tests and fuzzers too). */
  receive(data: Buffer, source: Source): void {
    this.stats.received++;
    // Keep-alive on UDP (RFC 5626 §4.4.1 uses STUN; a bare CRLF from old phones is ignored).
    if (data.length <= 4 && /^[\r\n]*$/.test(data.toString('latin1'))) return;
    const guard = this.opts.guard;
    // A banned source is dropped unparsed — unless it is in a dialog with us (what belongs to its
    // dialogs — requests with a To tag, responses — is let through below) or the request carries
    // credentials (the core serves it only if they verify: a phone behind a banned NAT address).
    const banned = !!guard && !guard.accepts(source);
    const credentialed = banned && carriesCredentials(data);
    if (banned && !credentialed && !this.hasDialogsWith?.(source.address)) return;
    const result = parseMessage(data, this.limits);
    if (!result.ok) {
      if (banned) return;
      this.stats.malformed++;
      log.warn('sip.parse', `malformed message from ${source.transport} ${source.address}:${source.port}: ${result.reason}`);
      if (result.request && (!guard || guard.check(result.request, source) === 'ok')) {
        this.stamp(result.request, source);
        this.stats.answered400++;
        this.sendResponse(createResponse(result.request, result.status ?? 400, result.reason), source).catch(() => undefined);
      }
      return;
    }
    const msg = result.message;
    if (banned && msg.isRequest && !msg.toTag && !credentialed) return;
    if (msg.isRequest) {
      if (guard && guard.check(msg, source) !== 'ok') return;
      if (banned) source = { ...source, banned: true };
      this.stamp(msg, source);
    }
    try {
      this.onMessage?.(msg, source);
    } catch (err) {
      // The layers above must never crash the transport; log and carry on.
      log.error('sip.transport', `error handling ${msg.isRequest ? msg.method : msg.status} from ${source.address}`, err);
    }
  }

  /**
   * RFC 3261 §18.2.1 `received` and RFC 3581 §4 `rport` on the top Via — always ours: whatever the
   * sender wrote there is replaced with the address and port the packet came from (a client-made
   * `received=` or `rport=` would otherwise aim our responses, and their retransmissions, at a
   * third party: a reflection attack).
   */
  private stamp(req: SipRequest, source: Source): void {
    const via = parseVia(req.get('via')!);
    let changed = false;
    if (via.host !== source.address || 'received' in via.params) {
      if (via.host !== source.address) via.params.received = source.address;
      else delete via.params.received;
      changed = true;
    }
    if ('rport' in via.params) {
      via.params.rport = String(source.port);
      changed = true;
    }
    if (changed) req.headers[req.headers.findIndex(([k]) => k === 'via')]![1] = formatVia(via);
  }

  viaFor(transport: TransportName): { host: string; port: number } {
    const port = this.ports.get(transport) ?? this.ports.get('UDP') ?? 5060;
    return { host: this.opts.advertisedHost, port };
  }

  /** The port a transport listens on, if it does. */
  portOf(transport: TransportName): number | undefined {
    return this.ports.get(transport);
  }

  async sendRequest(req: SipRequest, target: Target): Promise<void> {
    const data = req.toBuffer();
    if (target.flowId && target.flowId !== 'udp') {
      const flow = this.flows.get(target.flowId);
      if (flow) return this.count(flow.send(data));
      if (target.transport === 'WS' || target.transport === 'WSS') throw new TransportError('WebSocket flow closed');
    }
    switch (target.transport) {
      case 'UDP':
        return this.count(this.sendUdp(data, target.host, target.port));
      case 'TCP':
      case 'TLS':
        return this.count((await this.connectStream(target.transport, target.host, target.port)).send(data));
      default:
        throw new TransportError(`cannot open an outbound ${target.transport} connection`);
    }
  }

  async sendResponse(res: SipResponse, source: Source): Promise<void> {
    const data = res.toBuffer();
    if (source.transport === 'UDP') {
      // Symmetric response routing (RFC 3581 for every request): back to the address and port the
      // request came from — never to an address or port the sender wrote into its Via.
      return this.count(this.sendUdp(data, source.address, source.port));
    }
    const flow = this.flows.get(source.flowId);
    if (!flow) throw new TransportError(`${source.transport} connection to ${source.address}:${source.port} is closed`);
    return this.count(flow.send(data));
  }

  private async count(p: Promise<void>): Promise<void> {
    await p;
    this.stats.sent++;
  }

  private sendUdp(data: Buffer, host: string, port: number): Promise<void> {
    const sock = this.udp;
    if (!sock) return Promise.reject(new TransportError('UDP transport not listening'));
    return new Promise((resolve, reject) =>
      sock.send(data, port, host.replace(/^\[|\]$/g, ''), (err) => (err ? reject(new TransportError(err.message)) : resolve())),
    );
  }

  /** Reuses an open connection to host:port (§18.1.1) or opens one; concurrent sends share the attempt. */
  private connectStream(transport: 'TCP' | 'TLS', host: string, port: number): Promise<Flow> {
    for (const f of this.flows.values()) if (f.transport === transport && f.address === host && f.port === port) return Promise.resolve(f);
    const key = `${transport}|${host}|${port}`;
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const attempt = new Promise<Flow>((resolve, reject) => {
      const bare = host.replace(/^\[|\]$/g, '');
      const c = this.opts.tlsClient;
      const socket =
        transport === 'TLS'
          ? tls.connect({ host: bare, port, ...(net.isIP(bare) ? {} : { servername: bare }), rejectUnauthorized: c?.verify ?? true, ...(c?.ca ? { ca: c.ca } : {}) })
          : net.connect({ host: bare, port });
      const ready = transport === 'TLS' ? 'secureConnect' : 'connect';
      socket.setTimeout(10_000, () => socket.destroy(new Error('connect timeout')));
      socket.once(ready, () => {
        socket.setTimeout(0);
        socket.removeAllListeners('error');
        resolve(this.adoptStream(socket, transport));
      });
      socket.once('error', (err) => reject(new TransportError(`${transport} connect to ${host}:${port} failed: ${err.message}`)));
    });
    this.connecting.set(key, attempt);
    const done = () => this.connecting.delete(key);
    attempt.then(done, done);
    return attempt;
  }

  /** Closes every listener and flow. */
  async close(): Promise<void> {
    const flows = [...this.flows.values()];
    this.flows.clear();
    await Promise.all(flows.map((f) => f.close()));
    await Promise.all([
      this.udp ? new Promise<void>((r) => this.udp!.close(() => r())) : undefined,
      ...this.servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))),
    ]);
    this.udp = undefined;
    this.servers.length = 0;
  }
}

/** The `drops` column of /proc/self/net/udp for the socket bound to `port` (Linux). */
export function udpKernelDrops(port: number): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/net/udp', 'utf8');
  } catch {
    return undefined;
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let drops: number | undefined;
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 13 || !cols[1]?.endsWith(`:${hexPort}`)) continue;
    drops = (drops ?? 0) + Number(cols[12]);
  }
  return drops;
}
