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
 * Not yet: two-party bridges relayed inside rtpengine without the hop through the worker (the
 * step that takes Node out of the packet path of a plain call; docs/media.md).
 */
import { randomBytes } from 'node:crypto';
import { Emitter } from '../../util/emitter.js';
import { log } from '../../util/log.js';
import type { CodecName } from '../sdp.js';
import type { BridgeMember, EndpointKind, MediaEngine, MediaEngineEvents, MediaStats, ReceiveCounters } from '../types.js';
import type { BValue } from './bencode.js';
import { NgError } from './ng.js';
import { RtpenginePool, type RtpengineNode, type RtpenginePoolOptions } from './pool.js';

/** The ng flags that shape the SDP rtpengine writes for one side. */
type SideFlags = Record<string, BValue>;

/** Toward a browser: ICE, DTLS-SRTP, rtcp-mux, a=mid (what Chromium and Firefox need). */
const WEBRTC: SideFlags = { ICE: 'force', 'transport-protocol': 'UDP/TLS/RTP/SAVPF', 'rtcp-mux': ['offer', 'require'], flags: ['generate-mid'], SDES: ['off'] };
/** Toward a phone, a trunk, or the worker: plain RTP/AVP, RTCP on its own port. */
const PLAIN: SideFlags = { ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'], DTLS: 'off', SDES: ['off'] };

interface Endpoint {
  readonly id: string;
  readonly kind: EndpointKind;
  /** The inner engine's RTP endpoint behind it. */
  readonly inner: string;
  readonly node: RtpengineNode;
  /** rtpengine's call-id for this endpoint. */
  readonly callId: string;
  /** rtpengine holds state for it (an offer went through). */
  negotiated: boolean;
}

/** Options of {@link RtpengineMediaEngine}. */
export interface RtpengineEngineOptions extends RtpenginePoolOptions {
  /** ng addresses (`host:port`) of the rtpengines. */
  addresses: readonly string[];
}

/** The rtpengine engine: network side in rtpengine, bridges in the inner engine. */
export class RtpengineMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  readonly pool: RtpenginePool;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly byInner = new Map<string, Endpoint>();
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
    log.info('rtpengine', `media through rtpengine at ${this.pool.nodes.filter((n) => n.up).map((n) => n.client.address).join(', ')}`);
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

  async createEndpoint(kind: EndpointKind): Promise<string> {
    const node = this.pool.pick();
    if (!node) throw new Error('no rtpengine available (none answers its ng port)');
    const inner = await this.inner.createEndpoint('rtp');
    const id = `${kind}-r${this.nextId++}`;
    const e: Endpoint = { id, kind, inner, node, callId: `sb-${this.instance}-${id}`, negotiated: false };
    node.load++;
    this.endpoints.set(id, e);
    this.byInner.set(inner, e);
    return id;
  }

  private side(e: Endpoint): SideFlags {
    return e.kind === 'webrtc' ? WEBRTC : PLAIN;
  }

  /** The peer offered: rtpengine turns it into a plain offer for the worker, and the worker's answer into the peer's. */
  async answer(endpointId: string, offer: string, codec: CodecName): Promise<string> {
    const e = this.get(endpointId);
    const toWorker = await this.ng(e, 'offer', { 'from-tag': 'ext', sdp: offer, ...PLAIN });
    const workerAnswer = await this.inner.answer(e.inner, toWorker, codec);
    return this.ng(e, 'answer', { 'from-tag': 'ext', 'to-tag': 'int', sdp: workerAnswer, ...this.side(e) });
  }

  /** We offer to the peer: the worker's plain offer, rewritten by rtpengine for the peer's kind. */
  async offer(endpointId: string, codecs: readonly CodecName[]): Promise<string> {
    const e = this.get(endpointId);
    const workerOffer = await this.inner.offer(e.inner, codecs);
    return this.ng(e, 'offer', { 'from-tag': 'int', sdp: workerOffer, ...this.side(e) });
  }

  /** The peer's answer to our (re-)offer. */
  async acceptAnswer(endpointId: string, answer: string): Promise<CodecName> {
    const e = this.get(endpointId);
    const toWorker = await this.ng(e, 'answer', { 'from-tag': 'int', 'to-tag': 'ext', sdp: answer, ...PLAIN });
    return this.inner.acceptAnswer(e.inner, toWorker);
  }

  /** A new offer from the peer (hold, ICE restart): from-tag is the re-offerer's (ng protocol). */
  async reanswer(endpointId: string, offer: string): Promise<string> {
    const e = this.get(endpointId);
    const toWorker = await this.ng(e, 'offer', { 'from-tag': 'ext', 'to-tag': 'int', sdp: offer, ...PLAIN });
    const workerAnswer = await this.inner.reanswer(e.inner, toWorker);
    return this.ng(e, 'answer', { 'from-tag': 'ext', 'to-tag': 'int', sdp: workerAnswer, ...this.side(e) });
  }

  /** We offer again (a re-INVITE without an offer): answered through {@link acceptAnswer}. */
  async reoffer(endpointId: string): Promise<string> {
    const e = this.get(endpointId);
    const workerOffer = await this.inner.reoffer(e.inner);
    return this.ng(e, 'offer', { 'from-tag': 'int', 'to-tag': 'ext', sdp: workerOffer, ...this.side(e) });
  }

  /**
   * What reaches the worker from each endpoint's rtpengine: rtpengine forwards RTP without
   * renumbering (SRTP → RTP only decrypts), so a sequence gap on the peer's side is a gap here.
   */
  async receiveStats(ids: readonly string[]): Promise<Record<string, ReceiveCounters>> {
    const inner = ids.flatMap((id) => {
      const e = this.endpoints.get(id);
      return e ? [[e.inner, id] as const] : [];
    });
    const got = await this.inner.receiveStats(inner.map(([i]) => i));
    return Object.fromEntries(inner.flatMap(([i, id]) => (got[i] ? [[id, got[i]]] : [])));
  }

  /** Impairs the worker's side of the endpoint (behind rtpengine: the peer sees the same loss and delay). */
  impair(id: string, impairment: { lossPct: number; delayMs: number } | null): Promise<void> {
    return this.inner.impair(this.get(id).inner, impairment);
  }

  setBridge(bridgeId: string, members: readonly BridgeMember[]): Promise<void> {
    return this.inner.setBridge(bridgeId, members.map((m) => ({ ...m, endpoint: this.get(m.endpoint).inner, hears: this.inners(m.hears) })));
  }

  closeBridge(bridgeId: string): Promise<void> {
    return this.inner.closeBridge(bridgeId);
  }

  sendDigit(endpointId: string, digit: string): Promise<boolean> {
    return this.inner.sendDigit(this.get(endpointId).inner, digit);
  }

  hasTelephoneEvent(endpointId: string): Promise<boolean> {
    return this.inner.hasTelephoneEvent(this.get(endpointId).inner);
  }

  expectMedia(endpointId: string, expected: boolean): Promise<void> {
    return this.inner.expectMedia(this.get(endpointId).inner, expected);
  }

  async closeEndpoint(endpointId: string): Promise<void> {
    const e = this.endpoints.get(endpointId);
    if (!e) return;
    this.endpoints.delete(endpointId);
    this.byInner.delete(e.inner);
    e.node.load--;
    const deleted = e.negotiated && e.node.up ? e.node.client.request('delete', { 'call-id': e.callId }).catch((err: Error) => log.debug('rtpengine', `delete ${e.callId}: ${err.message}`)) : undefined;
    await Promise.all([this.inner.closeEndpoint(e.inner), deleted]);
  }

  async stats(): Promise<MediaStats> {
    const s = await this.inner.stats();
    return { ...s, endpoints: this.endpoints.size, rtpengines: this.pool.nodes.map((n) => ({ address: n.client.address, up: n.up, endpoints: n.load })) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.endpoints.keys()].map((id) => this.closeEndpoint(id).catch(() => undefined)));
    this.pool.close();
    await this.inner.close();
  }
}
