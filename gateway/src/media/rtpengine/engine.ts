/**
 * The rtpengine media engine (`media.engine: "rtpengine"`, DESIGN.md 4b): every endpoint's
 * network side — ICE, DTLS-SRTP, rtcp-mux for browsers; plain RTP for phones and trunks — is
 * terminated by rtpengine (Sipwise, native, controlled over its ng protocol), and the gateway's
 * worker sees each endpoint as one plain-RTP stream on loopback.
 *
 * An endpoint is one rtpengine call with two monologues:
 * ```
 *   peer (browser / phone) ⇄ [tag "ext"  rtpengine  tag "int"] ⇄ worker RTP endpoint ⇄ bridge
 * ```
 * The SDP the peer sends is handed to rtpengine as the offer or answer of the "ext" side, and
 * what rtpengine writes for the "int" side is negotiated with a plain RTP endpoint of the inner
 * (werift worker) engine — and the other way round. Bridges, music, the mixer, DTMF detection
 * and generation all stay on the inner engine, unchanged, so every feature works the same on
 * both engines; rtpengine carries what costs most in the werift engine (SRTP, DTLS, ICE).
 *
 * With `direct` (config `media.rtpengineDirect`), the endpoints of one call share one rtpengine
 * call and a two-party bridge is relayed by rtpengine alone, peer to peer (./direct.ts).
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Emitter } from '../../util/emitter.js';
import { log } from '../../util/log.js';
import { parseAudio, SdpError, type CodecName } from '../sdp.js';
import type { BridgeMember, EndpointKind, MediaEngine, MediaEngineEvents, MediaStats, OfferOptions, ReceiveCounters, ReportedQuality } from '../types.js';
import type { BValue } from './bencode.js';
import { attachWorker, canPair, lastPacketFrom, pairPeers, pairWithWorker, port, reportedQuality, withoutSsrc, type PairableEndpoint, type SideFlags as SideFlagsOf } from './direct.js';
import { NgError } from './ng.js';
import { RtpenginePool, type RtpengineNode, type RtpenginePoolOptions } from './pool.js';

/** The ng flags that shape the SDP rtpengine writes for one side. */
type SideFlags = Record<string, BValue>;

/** Toward a browser: ICE, DTLS-SRTP, rtcp-mux, a=mid (what Chromium and Firefox need). */
const WEBRTC: SideFlags = { ICE: 'force', 'transport-protocol': 'UDP/TLS/RTP/SAVPF', 'rtcp-mux': ['offer', 'require'], flags: ['generate-mid'], SDES: ['off'] };
/** Toward a phone, a trunk, or the worker: plain RTP/AVP, RTCP on its own port. */
const PLAIN: SideFlags = { ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'], DTLS: 'off', SDES: ['off'] };

interface Endpoint extends PairableEndpoint {
  readonly kind: EndpointKind;
  /** The inner engine's RTP endpoint behind it. */
  readonly inner: string;
  readonly node: RtpengineNode;
  /** rtpengine's call-id: the endpoint's own, or its call's (direct mode). */
  readonly callId: string;
  /** The call's endpoints in one rtpengine call (direct mode). */
  readonly group?: Group | undefined;
  /** rtpengine holds state for it (an offer went through). */
  negotiated: boolean;
  /** Whether the call layer expects media from the peer now (not on hold). */
  expected: boolean;
  /** A test impairment is on (the worker must see its packets). */
  impaired: boolean;
  /** The bridge it is in. */
  bridge?: string | undefined;
  /** When it was paired (liveness counts from then). */
  pairedAt: number;
  /**
   * It was paired and went back to the worker: it stays there. Pairing again would put a browser
   * back on the other party's SSRC, which it heard before the worker's and would not play again
   * (./direct.ts; it lost one direction's audio between two browsers in the rtpengine matrix).
   * The first pairing — a call's life until it needs the worker — is what the per-call cost is about.
   */
  leftDirect: boolean;
  /** A timeout was reported for it already. */
  timedOut: boolean;
  /**
   * The call began peer to peer (callee side): its offer was made from this caller endpoint's
   * peer's offer, and its peer's answer answers that peer (see {@link RtpengineMediaEngine.offer}).
   */
  through?: Endpoint | undefined;
  /** The caller side of such a call: the answer its peer gets, made from the callee's answer. */
  throughAnswer?: string | undefined;
  /** The codec on the wire, and the RFC 4733 type, for the worker's side made later ({@link attachWorker}). */
  codec?: CodecName | undefined;
  telephoneEvent?: number | undefined;
}

/** An answer's first G.711 codec and whether it takes RFC 4733; an answer without G.711 cannot be used. */
function answered(answer: string): { codec: CodecName; events: boolean } {
  const desc = parseAudio(answer);
  const c = desc.codecs[0];
  if (!c) throw new SdpError('answer has no G.711 codec');
  return { codec: c.name, events: desc.telephoneEvent !== undefined };
}

/** Peer to peer since the first offer, the worker's side never negotiated (./direct.ts). */
function throughOnly(e: Endpoint): boolean {
  return !e.workerSdp && (e.through !== undefined || e.throughAnswer !== undefined);
}

/** The endpoints of one gateway call in one rtpengine call (direct mode). */
interface Group {
  readonly callId: string;
  readonly node: RtpengineNode;
  endpoints: number;
  /** ng requests of the group run one after another (pairing replays whole exchanges). */
  chain: Promise<unknown>;
}

/** Options of {@link RtpengineMediaEngine}. */
export interface RtpengineEngineOptions extends RtpenginePoolOptions {
  /** ng addresses (`host:port`) of the rtpengines. */
  addresses: readonly string[];
  /** Relay two-party calls peer to peer inside rtpengine (./direct.ts). */
  direct?: boolean;
  /** No media for this long from a directly relayed peer that should send: `timeout` (0 = off). */
  rtpTimeoutMs?: number;
  /** `host:port` to receive rtpengine's DTMF log on (its `--dtmf-log-dest`): digits of direct pairs. */
  dtmfLog?: string;
}

/** RFC 4733 §3.2 event codes 0-15 as keys. */
const KEYS = '0123456789*#ABCD';

/** The rtpengine engine: network side in rtpengine, bridges in the inner engine. */
export class RtpengineMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  readonly pool: RtpenginePool;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly byInner = new Map<string, Endpoint>();
  private readonly groups = new Map<string, Group>();
  private readonly bridges = new Map<string, readonly BridgeMember[]>();
  private readonly direct: boolean;
  private readonly rtpTimeoutMs: number;
  private livenessTimer?: ReturnType<typeof setInterval> | undefined;
  private dtmfSocket?: dgram.Socket | undefined;
  private readonly dtmfLog: string | undefined;
  /** Distinguishes this gateway's calls in an rtpengine shared with others (or a previous run). */
  private readonly instance = randomBytes(4).toString('hex');
  private nextId = 1;

  /** Builds the engine; {@link start} checks the rtpengines before the gateway takes calls. */
  constructor(
    /** The engine carrying the bridges (the werift worker), behind rtpengine. */
    readonly inner: MediaEngine,
    opts: RtpengineEngineOptions,
  ) {
    super();
    this.pool = new RtpenginePool(opts.addresses, opts);
    this.direct = opts.direct ?? false;
    this.rtpTimeoutMs = opts.rtpTimeoutMs ?? 0;
    this.dtmfLog = opts.dtmfLog;
    // The inner engine's events name its RTP endpoints; ours name the outer ones.
    inner.on('endpointState', (id, state) => this.forward(id, (e) => this.emit('endpointState', e.id, state)));
    inner.on('firstPacket', (id) => this.forward(id, (e) => this.emit('firstPacket', e.id)));
    inner.on('dtmf', (id, digit) => this.forward(id, (e) => this.emit('dtmf', e.id, digit)));
    inner.on('timeout', (id, ms) => this.forward(id, (e) => this.emit('timeout', e.id, ms)));
    inner.on('lost', (ids, reason) => {
      const ours = ids.map((i) => this.byInner.get(i)?.id).filter((x): x is string => !!x);
      if (ours.length) this.emit('lost', ours, reason);
    });
    // An rtpengine that stops answering takes its endpoints' media with it.
    this.pool.on('down', (node, reason) => {
      const ids = [...this.endpoints.values()].filter((e) => e.node === node).map((e) => e.id);
      if (ids.length) this.emit('lost', ids, reason);
    });
  }

  /**
   * Pings the rtpengines and starts their health checks; rejects, naming the addresses, when none
   * answers. (`inner` carries the bridges and is closed with this engine.)
   */
  async start(): Promise<void> {
    await this.pool.start();
    log.info('rtpengine', `media through rtpengine at ${this.pool.nodes.filter((n) => n.up).map((n) => n.client.address).join(', ')}${this.direct ? '; two-party calls relayed peer to peer' : ''}`);
    if (this.direct && !this.dtmfLog) log.warn('rtpengine', 'two-party calls are relayed peer to peer but media.rtpengineDtmfLog is not set: keys pressed in those calls are not seen (start rtpengine with --dtmf-log-dest=<host:port> and set media.rtpengineDtmfLog to it; docs/media.md)');
    // Each look is an ng query per direct call: a sixth of the timeout (1-10 s) is precise enough.
    if (this.direct && this.rtpTimeoutMs > 0) this.livenessTimer = setInterval(() => void this.checkLiveness(), Math.max(1000, Math.min(10_000, this.rtpTimeoutMs / 6)));
    if (this.direct && this.dtmfLog) await this.listenDtmfLog(this.dtmfLog);
  }

  /**
   * rtpengine's DTMF log (one JSON datagram per digit: call-id, the sending side's tag, the RFC
   * 4733 event): the digits of direct pairs, which the worker does not see. Digits of calls on
   * the worker are the worker's to report (rtpengine logs those too).
   */
  private async listenDtmfLog(address: string): Promise<void> {
    const [, host, port] = /^\[?(.+?)\]?:(\d+)$/.exec(address)!;
    const socket = dgram.createSocket(host!.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (msg) => {
      try {
        const d = JSON.parse(msg.toString()) as { source_tag?: string; event?: number };
        const e = typeof d.source_tag === 'string' && d.source_tag.startsWith('ext-') ? this.endpoints.get(d.source_tag.slice(4)) : undefined;
        const key = typeof d.event === 'number' ? KEYS[d.event] : undefined;
        if (e?.pairedWith && key) this.emit('dtmf', e.id, key);
      } catch {
        log.debug('rtpengine', `DTMF log: not JSON (${msg.length} bytes)`);
      }
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new Error(`media.rtpengineDtmfLog: cannot listen on ${address} (${err.message})`)));
      socket.bind(Number(port), host, () => resolve());
    });
    socket.on('error', (err) => log.warn('rtpengine', `DTMF log socket: ${err.message}`));
    this.dtmfSocket = socket;
  }

  private forward(innerId: string, fn: (e: Endpoint) => void): void {
    const e = this.byInner.get(innerId);
    if (e) fn(e);
  }

  private get(id: string): Endpoint {
    const e = this.endpoints.get(id);
    if (!e) throw new Error(`unknown endpoint ${id}`);
    return e;
  }

  private inners(ids: readonly string[]): string[] {
    return ids.map((id) => this.get(id).inner);
  }

  /**
   * Runs `fn` after the endpoint's earlier group operations (direct mode: pairing replays whole
   * exchanges, which must not interleave with a negotiation); at once otherwise.
   */
  private serial<T>(e: Endpoint, fn: () => Promise<T>): Promise<T> {
    const g = e.group;
    if (!g) return fn();
    const run = g.chain.then(fn, fn);
    g.chain = run.catch(() => undefined);
    return run;
  }

  /** One ng request for an endpoint; a request rtpengine never answered counts against it. */
  private async ng(e: Endpoint, command: string, params: Record<string, BValue | undefined>): Promise<string> {
    try {
      const r = await e.node.client.request(command, { 'call-id': e.callId, ...params });
      e.negotiated = true;
      if (typeof r.sdp !== 'string') throw new NgError(`rtpengine ${e.node.client.address}: ${command} answered without SDP`);
      return r.sdp;
    } catch (err) {
      if (err instanceof NgError && err.timedOut) this.pool.noAnswer(e.node);
      throw err;
    }
  }

  async createEndpoint(kind: EndpointKind, group?: string): Promise<string> {
    const g = this.direct && group ? this.groups.get(group) : undefined;
    const node = g?.node.up ? g.node : this.pool.pick();
    if (!node) throw new Error('no rtpengine available (none answers its ng port)');
    const inner = await this.inner.createEndpoint('rtp');
    const id = `${kind}-r${this.nextId++}`;
    let shared: Group | undefined;
    if (this.direct && group) {
      shared = g?.node === node ? g : { callId: `sb-${this.instance}-call-${group}`, node, endpoints: 0, chain: Promise.resolve() };
      shared.endpoints++;
      this.groups.set(group, shared);
    }
    const e: Endpoint = {
      id, kind, inner, node, ext: `ext-${id}`, int: `int-${id}`, callId: shared?.callId ?? `sb-${this.instance}-${id}`, group: shared,
      negotiated: false, expected: true, impaired: false, pairedAt: 0, timedOut: false, leftDirect: false,
    };
    node.load++;
    this.endpoints.set(id, e);
    this.byInner.set(inner, e);
    return id;
  }

  private side(e: Endpoint): SideFlags {
    return e.kind === 'webrtc' ? WEBRTC : PLAIN;
  }

  /**
   * The peer offered: rtpengine turns it into a plain offer for the worker, and the worker's
   * answer into the peer's. A caller whose callee answered through rtpengine ({@link offer}) gets
   * the answer made from the callee's.
   */
  async answer(endpointId: string, offer: string, codec: CodecName): Promise<string> {
    const e = this.get(endpointId);
    if (e.throughAnswer !== undefined && offer === e.peerSdp) return e.throughAnswer;
    return this.negotiate(e, async () => {
      // After an offer through to a callee, name the worker's tag: rtpengine (10.5) exits on an
      // offer from the same tag without one once that callee's side was renegotiated.
      const toWorker = await this.ng(e, 'offer', { 'from-tag': e.ext, ...(e.negotiated ? { 'to-tag': e.int } : {}), sdp: offer, ...PLAIN });
      const workerAnswer = await this.inner.answer(e.inner, toWorker, codec);
      const toPeer = await this.ng(e, 'answer', { 'from-tag': e.ext, 'to-tag': e.int, sdp: workerAnswer, ...this.side(e) });
      this.exchanged(e, 'ext', offer, workerAnswer, toPeer);
      return toPeer;
    });
  }

  /**
   * We offer to the peer: the worker's plain offer, rewritten by rtpengine for the peer's kind.
   * In direct mode, with `opts.peer` (a caller forwarded to this one callee), the call begins
   * peer to peer instead: the caller's offer, cut to `codecs` and telephone-event, goes to this
   * peer through rtpengine, and this peer's answer answers the caller ({@link acceptAnswer}).
   * One ng request each way and no worker: the worker's sides are negotiated only if the call
   * ever needs it ({@link attachWorker}).
   */
  async offer(endpointId: string, codecs: readonly CodecName[], opts?: OfferOptions): Promise<string> {
    const e = this.get(endpointId);
    const peer = opts?.peer;
    const te = opts?.telephoneEvent;
    const caller = peer && e.group ? this.endpoints.get(peer.endpoint) : undefined;
    // Only with RFC 4733 on the caller's side: the worker offers the callee telephone-event
    // whatever the caller has, so a caller's SIP INFO keys can reach the callee as events.
    if (peer && caller && caller.group === e.group && te !== undefined && !caller.workerSdp && !caller.pairedWith && !e.negotiated) return this.offerThrough(e, caller, peer.offer, codecs, te);
    return this.negotiate(e, async () => {
      const workerOffer = await this.inner.offer(e.inner, codecs, opts);
      const toPeer = await this.ng(e, 'offer', { 'from-tag': e.int, sdp: workerOffer, ...this.side(e) });
      this.exchanged(e, 'int', undefined, workerOffer, toPeer);
      return toPeer;
    });
  }

  /** The callee's offer made from the caller's (see {@link offer}): rtpengine relays the two peers from the start. */
  private offerThrough(e: Endpoint, caller: Endpoint, offer: string, codecs: readonly CodecName[], telephoneEvent: number): Promise<string> {
    return this.serial(e, async () => {
      const toPeer = await this.ng(e, 'offer', {
        'from-tag': caller.ext, 'to-tag': e.ext, sdp: withoutSsrc(offer), ...this.side(e),
        codec: { strip: ['all'], except: [...codecs, 'telephone-event/8000'] },
      });
      caller.negotiated = true;
      caller.offerer = 'ext';
      caller.peerSdp = offer;
      e.offerer = 'int';
      e.through = caller;
      e.telephoneEvent = telephoneEvent;
      e.peerFacingPort = port(toPeer);
      return toPeer;
    });
  }

  /**
   * The peer's answer to our (re-)offer. A callee whose offer came from the caller's answers the
   * caller (one ng request; the caller's {@link answer} returns it) — unless the caller was
   * answered otherwise meanwhile: then the callee's worker side is negotiated now.
   */
  async acceptAnswer(endpointId: string, answer: string): Promise<CodecName> {
    const e = this.get(endpointId);
    const caller = e.through;
    if (caller && !e.workerSdp) {
      return this.serial(e, async () => {
        const { codec, events } = answered(answer);
        e.peerSdp = answer;
        e.codec = caller.codec = codec;
        // The worker takes the call: the caller was answered otherwise meanwhile, or the callee
        // declined RFC 4733 (the worker turns the caller's events into SIP INFO for it).
        if (!events || !this.endpoints.has(caller.id) || caller.workerSdp || e.leftDirect || (caller.pairedWith && caller.pairedWith !== e)) {
          await this.attach(e);
          return codec;
        }
        const toCaller = await this.ng(e, 'answer', { 'from-tag': caller.ext, 'to-tag': e.ext, sdp: withoutSsrc(answer), ...this.side(caller) });
        caller.throughAnswer = toCaller;
        caller.peerFacingPort = port(toCaller);
        if (!caller.pairedWith) {
          caller.pairedWith = e;
          e.pairedWith = caller;
          caller.pairedAt = e.pairedAt = Date.now();
          // The worker hears nothing of them: its silence detection waits; rtpengine's counts.
          await Promise.all([this.inner.expectMedia(caller.inner, false), this.inner.expectMedia(e.inner, false)]);
          log.debug('rtpengine', `${caller.id} ⇄ ${e.id} relayed peer to peer from the first offer`);
        }
        return codec;
      });
    }
    return this.negotiate(e, async () => {
      const toWorker = await this.ng(e, 'answer', { 'from-tag': e.int, 'to-tag': e.ext, sdp: answer, ...PLAIN });
      if (this.direct) e.peerSdp = answer;
      return this.inner.acceptAnswer(e.inner, toWorker);
    });
  }

  /** A new offer from the peer (hold, ICE restart): from-tag is the re-offerer's (ng protocol). */
  async reanswer(endpointId: string, offer: string): Promise<string> {
    const e = this.get(endpointId);
    return this.negotiate(e, async () => {
      const toWorker = await this.ng(e, 'offer', { 'from-tag': e.ext, 'to-tag': e.int, sdp: offer, ...PLAIN });
      const workerAnswer = await this.inner.reanswer(e.inner, toWorker);
      const toPeer = await this.ng(e, 'answer', { 'from-tag': e.ext, 'to-tag': e.int, sdp: workerAnswer, ...this.side(e) });
      this.exchanged(e, 'ext', offer, workerAnswer, toPeer);
      return toPeer;
    });
  }

  /** We offer again (a re-INVITE without an offer): answered through {@link acceptAnswer}. */
  async reoffer(endpointId: string): Promise<string> {
    const e = this.get(endpointId);
    return this.negotiate(e, async () => {
      const workerOffer = await this.inner.reoffer(e.inner);
      const toPeer = await this.ng(e, 'offer', { 'from-tag': e.int, 'to-tag': e.ext, sdp: workerOffer, ...this.side(e) });
      this.exchanged(e, 'int', undefined, workerOffer, toPeer);
      return toPeer;
    });
  }

  /** Keeps what a re-pairing replays: both sides' last SDP, who offered, the peer's port. */
  private exchanged(e: Endpoint, offerer: 'ext' | 'int', peerSdp: string | undefined, workerSdp: string, toPeer: string): void {
    if (!this.direct) return;
    e.offerer = offerer;
    e.peerSdp = peerSdp; // our offer: the peer's answer comes in acceptAnswer
    e.workerSdp = workerSdp;
    e.peerFacingPort = port(toPeer);
  }

  /**
   * A negotiation of `e`: in direct mode its pair (if any) goes back through the worker first,
   * and the bridge is looked at again after (it may pair again).
   */
  private async negotiate<T>(e: Endpoint, fn: () => Promise<T>): Promise<T> {
    if (!e.group) return fn();
    const result = await this.serial(e, async () => {
      await this.unpair(e);
      return fn();
    });
    if (e.bridge) void this.repairBridge(e.bridge);
    return result;
  }

  /**
   * What reaches the worker from each endpoint's rtpengine: rtpengine forwards RTP without
   * renumbering (SRTP → RTP only decrypts), so a sequence gap on the peer's side is a gap here.
   * A direct pair's media never reaches the worker: for it, the far end's latest RTCP report on
   * the peer's stream, from rtpengine (one `query` per call).
   */
  async receiveStats(ids: readonly string[]): Promise<Record<string, ReceiveCounters | ReportedQuality>> {
    const out: Record<string, ReceiveCounters | ReportedQuality> = {};
    const viaWorker: Array<[string, string]> = [];
    const direct = new Map<string, Endpoint[]>();
    for (const id of ids) {
      const e = this.endpoints.get(id);
      if (!e) continue;
      if (e.pairedWith) direct.set(e.callId, [...(direct.get(e.callId) ?? []), e]);
      else viaWorker.push([e.inner, id]);
    }
    const got = viaWorker.length ? await this.inner.receiveStats(viaWorker.map(([i]) => i)) : {};
    for (const [i, id] of viaWorker) if (got[i]) out[id] = got[i];
    await Promise.all([...direct.values()].map(async (group) => {
      const q = await group[0]!.node.client.request('query', { 'call-id': group[0]!.callId }).catch((err: Error) => {
        log.debug('rtpengine', `query ${group[0]!.callId}: ${err.message}`);
        return undefined;
      });
      for (const e of q ? group : []) {
        const r = reportedQuality(q!, e.ext, (e.pairedWith as Endpoint).ext);
        if (r) out[e.id] = r;
      }
    }));
    return out;
  }

  /** Impairs the worker's side of the endpoint (behind rtpengine: the peer sees the same loss and delay). */
  async impair(id: string, impairment: { lossPct: number; delayMs: number } | null): Promise<void> {
    const e = this.get(id);
    e.impaired = impairment !== null;
    if (e.group) await this.serial(e, () => this.unpair(e));
    await this.inner.impair(e.inner, impairment);
    if (e.bridge) await this.repairBridge(e.bridge);
  }

  async setBridge(bridgeId: string, members: readonly BridgeMember[]): Promise<void> {
    // The worker's bridge is always kept as the call stands, so going back to it is immediate.
    await this.inner.setBridge(bridgeId, members.map((m) => ({ ...m, endpoint: this.get(m.endpoint).inner, hears: this.inners(m.hears) })));
    if (!this.direct) return;
    const before = this.bridges.get(bridgeId) ?? [];
    this.bridges.set(bridgeId, members);
    for (const m of members) this.get(m.endpoint).bridge = bridgeId;
    for (const m of before) {
      const e = this.endpoints.get(m.endpoint);
      if (e && !members.some((n) => n.endpoint === m.endpoint)) {
        if (e.bridge === bridgeId) e.bridge = undefined;
        if (e.pairedWith) await this.serial(e, () => this.unpair(e));
      }
    }
    // Pairing is awaited too: a browser caller then gets its answer (and can decrypt anything)
    // only once rtpengine relays the other peer, so the first SSRC it hears is that peer's.
    // Pairing after the 200 OK saved ~2 ms inside the gateway but nothing measurable at the
    // client, and one test run in 29 under CPU load then heard nothing from the start.
    await this.repairBridge(bridgeId);
  }

  /** The pair a bridge can be relayed by rtpengine alone, if any (see ./direct.ts). */
  private directPair(bridgeId: string): [Endpoint, Endpoint] | undefined {
    const members = this.bridges.get(bridgeId);
    if (members?.length !== 2) return undefined;
    const [m1, m2] = members as [BridgeMember, BridgeMember];
    if (m1.music !== undefined || m2.music !== undefined) return undefined;
    if (m1.hears.length !== 1 || m1.hears[0] !== m2.endpoint || m2.hears.length !== 1 || m2.hears[0] !== m1.endpoint) return undefined;
    const a = this.endpoints.get(m1.endpoint);
    const b = this.endpoints.get(m2.endpoint);
    if (!a || !b || !a.group || a.group !== b.group) return undefined;
    if (a.impaired || b.impaired) return undefined;
    if (a.pairedWith === b) return [a, b]; // paired since the first offer
    if (a.leftDirect || b.leftDirect) return undefined;
    return canPair(a, b) ? [a, b] : undefined;
  }

  /** Pairs or unpairs a bridge's endpoints as the bridge now stands (never rejects: logs). */
  private async repairBridge(bridgeId: string): Promise<void> {
    const members = this.bridges.get(bridgeId);
    if (!members?.length) return;
    const first = this.endpoints.get(members[0]!.endpoint);
    if (!first?.group) return;
    await this.serial(first, async () => {
      const pair = this.directPair(bridgeId);
      for (const m of members) {
        const e = this.endpoints.get(m.endpoint);
        if (e?.pairedWith && !(pair && pair.includes(e) && pair.includes(e.pairedWith as Endpoint))) await this.unpair(e);
      }
      if (!pair || pair[0].pairedWith === pair[1]) return;
      const [a, b] = pair;
      try {
        await pairPeers((c, p) => this.ng(a, c, p as Record<string, BValue>), a, b, { a: this.side(a) as SideFlagsOf, b: this.side(b) as SideFlagsOf });
        a.pairedAt = b.pairedAt = Date.now();
        // The worker hears nothing of them now: its silence detection waits; rtpengine's counts.
        await Promise.all([this.inner.expectMedia(a.inner, false), this.inner.expectMedia(b.inner, false)]);
        log.debug('rtpengine', `${a.id} ⇄ ${b.id} relayed peer to peer`);
      } catch (err) {
        // Whatever half of the switch happened, both sides go back to their worker sides.
        log.warn('rtpengine', `${a.id} ⇄ ${b.id} stay on the worker: ${(err as Error).message}`);
        a.pairedWith = b;
        b.pairedWith = a;
        await this.unpair(a).catch((e2: Error) => log.warn('rtpengine', `${a.id}: back to the worker failed: ${e2.message}`));
      }
    }).catch((err: Error) => log.warn('rtpengine', `bridge ${bridgeId}: ${err.message}`));
  }

  /** Puts `e` (and whoever it is paired with) back on the worker. Runs inside the group's chain. */
  private async unpair(e: Endpoint): Promise<void> {
    const other = e.pairedWith as Endpoint | undefined;
    if (!other) return;
    e.pairedWith = undefined;
    other.pairedWith = undefined;
    e.leftDirect = other.leftDirect = true;
    for (const x of [e, other]) {
      if (!this.endpoints.has(x.id)) continue;
      // The peer heard the other party's SSRC meanwhile: a browser would not play the worker's
      // earlier one again (./direct.ts).
      await this.inner.newOutputSource(x.inner);
      if (x.workerSdp) await pairWithWorker((c, p) => this.ng(x, c, p as Record<string, BValue>), x, this.side(x) as SideFlagsOf, PLAIN as SideFlagsOf);
      else await this.attach(x);
      await this.inner.expectMedia(x.inner, x.expected);
    }
  }

  /** Negotiates the worker's side of an endpoint that was peer to peer from the first offer (./direct.ts). */
  private async attach(x: Endpoint): Promise<void> {
    const codec = x.codec;
    if (!codec) throw new Error(`${x.id}: no codec negotiated yet`);
    const toPeer = await attachWorker((c, p) => this.ng(x, c, p as Record<string, BValue>), x, {
      answer: (offer) => this.inner.answer(x.inner, offer, codec),
      offer: () => this.inner.offer(x.inner, [codec], { telephoneEvent: x.telephoneEvent }),
      acceptAnswer: (answer) => this.inner.acceptAnswer(x.inner, answer),
    }, this.side(x) as SideFlagsOf, PLAIN as SideFlagsOf);
    if (port(toPeer) !== x.peerFacingPort) log.warn('rtpengine', `${x.id}: rtpengine moved the peer's port taking it to the worker (${x.peerFacingPort} → ${port(toPeer)})`);
    log.debug('rtpengine', `${x.id} on the worker`);
  }

  /** Direct pairs' liveness, from rtpengine's last packet per peer (the worker sees none of it). */
  private async checkLiveness(): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    for (const e of this.endpoints.values()) {
      const o = e.pairedWith as Endpoint | undefined;
      if (!o || seen.has(e.id) || !e.group) continue;
      seen.add(e.id).add(o.id);
      try {
        const q = await e.node.client.request('query', { 'call-id': e.callId });
        for (const x of [e, o]) {
          if (!this.endpoints.has(x.id)) continue;
          const last = Math.max(lastPacketFrom(q, x.ext) * 1000, x.pairedAt);
          if (x.expected && !x.timedOut && x.pairedWith && now - last > this.rtpTimeoutMs) {
            x.timedOut = true;
            this.emit('timeout', x.id, now - last);
          }
        }
      } catch (err) {
        log.debug('rtpengine', `query ${e.callId}: ${(err as Error).message}`);
      }
    }
  }

  async closeBridge(bridgeId: string): Promise<void> {
    const members = this.bridges.get(bridgeId) ?? [];
    this.bridges.delete(bridgeId);
    for (const m of members) {
      const e = this.endpoints.get(m.endpoint);
      if (!e) continue;
      if (e.bridge === bridgeId) e.bridge = undefined;
      if (e.pairedWith) await this.serial(e, () => this.unpair(e)).catch(() => undefined);
    }
    return this.inner.closeBridge(bridgeId);
  }

  /** A digit into the peer's stream: generated by the worker, so a direct pair goes back to it. */
  async sendDigit(endpointId: string, digit: string): Promise<boolean> {
    const e = this.get(endpointId);
    if (e.pairedWith) await this.serial(e, () => this.unpair(e));
    return this.inner.sendDigit(e.inner, digit);
  }

  async hasTelephoneEvent(endpointId: string): Promise<boolean> {
    const e = this.get(endpointId);
    if (!throughOnly(e)) return this.inner.hasTelephoneEvent(e.inner);
    // Peer to peer from the first offer: what the peers agreed on.
    const agreed = e.through ? e.peerSdp : e.throughAnswer;
    try {
      return agreed !== undefined && parseAudio(agreed).telephoneEvent !== undefined;
    } catch {
      return false;
    }
  }

  async expectMedia(endpointId: string, expected: boolean): Promise<void> {
    const e = this.get(endpointId);
    e.expected = expected;
    if (expected) e.timedOut = false;
    // While paired the worker hears nothing: it keeps waiting; rtpengine's packets count.
    if (!e.pairedWith) await this.inner.expectMedia(e.inner, expected);
  }

  newOutputSource(endpointId: string): Promise<void> {
    return this.inner.newOutputSource(this.get(endpointId).inner);
  }

  async closeEndpoint(endpointId: string): Promise<void> {
    const e = this.endpoints.get(endpointId);
    if (!e) return;
    // Its partner in a direct pair stays relayed (to nobody now) until its bridge changes, which
    // takes it to the worker (unpair skips closed endpoints): a call hanging up pays nothing.
    e.pairedWith = undefined;
    this.endpoints.delete(endpointId);
    this.byInner.delete(e.inner);
    e.node.load--;
    let deleteCall = e.negotiated;
    if (e.group) {
      // The call's rtpengine call goes when its last endpoint does.
      e.group.endpoints--;
      deleteCall = e.group.endpoints === 0;
      if (deleteCall) for (const [k, g] of this.groups) if (g === e.group) this.groups.delete(k);
    }
    const deleted = deleteCall && e.node.up ? e.node.client.request('delete', { 'call-id': e.callId }).catch((err: Error) => log.debug('rtpengine', `delete ${e.callId}: ${err.message}`)) : undefined;
    await Promise.all([this.inner.closeEndpoint(e.inner), deleted]);
  }

  async stats(): Promise<MediaStats> {
    const s = await this.inner.stats();
    return { ...s, endpoints: this.endpoints.size, rtpengines: this.pool.nodes.map((n) => ({ address: n.client.address, up: n.up, endpoints: n.load, commands: { ...n.client.sent } })), ...(this.direct ? { directPairs: [...this.endpoints.values()].filter((e) => e.pairedWith && this.endpoints.has(e.pairedWith.id)).length / 2 } : {}) };
  }

  async close(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.dtmfSocket?.close();
    await Promise.all([...this.endpoints.keys()].map((id) => this.closeEndpoint(id).catch(() => undefined)));
    this.pool.close();
    await this.inner.close();
  }
}
