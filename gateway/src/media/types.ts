/**
 * The media engine contract. Call logic talks only to {@link MediaEngine}; the packet path lives
 * behind it (in a worker thread by default) so a faster engine can replace it later without
 * touching the B2BUA (DESIGN.md decision 4).
 */
import type { CodecName } from './sdp.js';
import type { ReceiveCounters, ReportedQuality } from './receive-stats.js';

export type { ReceiveCounters, ReportedQuality } from './receive-stats.js';

/** A WebRTC endpoint (ICE + DTLS-SRTP, browsers) or a plain RTP endpoint (SIP devices, trunks). */
export type EndpointKind = 'webrtc' | 'rtp';

/** Connectivity of an endpoint, as reported by the engine. */
export type EndpointState = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';

/** Engine-wide counters. */
export interface MediaStats {
  endpoints: number;
  bridges: number;
  packetsRelayed: number;
  /** Packets dropped because they came from an address that did not pass ICE / is not the negotiated peer. */
  packetsDroppedUnverified: number;
  /** Times the media worker died and was replaced (worker engine only). */
  workerRespawns?: number;
  /** The mixer: listeners mixed now, frames produced, the sources' jitter buffers, added latency. */
  mixing?: MixingStats;
  /**
   * The rtpengine engine: each rtpengine, whether it answers, the endpoints placed on it, and the
   * ng commands sent to it since start, by command.
   */
  rtpengines?: Array<{ address: string; up: boolean; endpoints: number; commands: Record<string, number> }>;
  /** rtpengine's direct mode: two-party calls relayed peer to peer inside rtpengine now. */
  directPairs?: number;
}

/** Counters of the mixer (see {@link MediaStats.mixing}). */
export interface MixingStats {
  /** Listeners whose output is mixed now (conference parties, supervisors). */
  listeners: number;
  /** Mixed 20 ms frames sent since start. */
  framesMixed: number;
  /** Jitter-buffer frames played, concealed (lost), late packets, frames dropped to shrink, underruns. */
  played: number;
  concealed: number;
  late: number;
  dropped: number;
  underruns: number;
  /** Added latency of mixed audio (a source packet's arrival → its audio sent), recent p50 and p99, ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /**
   * The same latency since start as a histogram: counts of 0.5 ms buckets from 0 ms, the last
   * bucket holding everything beyond. Two snapshots give exact percentiles over the time between.
   */
  latencyBuckets: number[];
}

/**
 * One member of a bridge: an endpoint, and the endpoints it hears. The call layer computes the
 * lists (the hearing matrix: mix-minus for a conference, nobody hears a silent monitor, only the
 * agent hears a whisper); the engine relays when a member hears exactly one source and mixes
 * when it hears more.
 */
export interface BridgeMember {
  endpoint: string;
  /** Endpoints whose audio this member hears (itself only for the echo test). */
  hears: readonly string[];
  /**
   * Music instead of the bridge's audio (on hold, in a queue): a WAV file, '' for the default, or
   * a built-in tone (`tone:confirm`, `tone:reorder`; see `TONES` in media/music.ts).
   */
  music?: string;
}

/** Events the engine reports. */
export type MediaEngineEvents = {
  endpointState: [endpointId: string, state: EndpointState];
  /** The first RTP packet arrived on an endpoint (used to measure first audio). */
  firstPacket: [endpointId: string];
  /** An RFC 4733 DTMF event began on an endpoint (reported once per digit). */
  dtmf: [endpointId: string, digit: string];
  /**
   * No RTP from the peer of an endpoint for `silentMs` although its description says it sends
   * (`rtpTimeoutMs`): the far end is gone (a crashed phone, a dead network). Reported once.
   */
  timeout: [endpointId: string, silentMs: number];
  /** Endpoints are gone with the engine part that held them (a media worker died); their calls must end. */
  lost: [endpointIds: string[], reason: string];
};

/** Listener registration shared by every engine implementation. */
export interface MediaEngineEventsApi {
  on<K extends keyof MediaEngineEvents>(event: K, fn: (...args: MediaEngineEvents[K]) => void): unknown;
  off<K extends keyof MediaEngineEvents>(event: K, fn: (...args: MediaEngineEvents[K]) => void): unknown;
}

/** Options of {@link MediaEngine.offer}. */
export interface OfferOptions {
  /**
   * The payload type to offer RFC 4733 events on — the other leg's, so both legs use one number
   * and a relay between them (rtpengine's direct mode) needs no rewriting; 101 when absent.
   */
  telephoneEvent?: number | undefined;
  /**
   * The endpoint this one is to be bridged with, two-party, and the offer its peer made: a
   * caller whose INVITE goes on to this one callee, and who is answered only when the callee
   * answers. An engine that relays two-party calls peer to peer (rtpengine's direct mode) may
   * build this offer from that one, and then answers that endpoint ({@link MediaEngine.answer}
   * with the same offer) from the answer this endpoint gets ({@link MediaEngine.acceptAnswer}):
   * the two peers negotiate with each other through it, in one offer/answer. Others ignore it.
   */
  peer?: { endpoint: string; offer: string } | undefined;
}

/** The media engine. Every method is asynchronous so the engine can live in another thread. */
export interface MediaEngine extends MediaEngineEventsApi {
  /**
   * Makes sure the engine can take calls (an external engine answers its control port); the
   * gateway awaits it before it listens. Engines that need nothing leave it out.
   */
  start?(): Promise<void>;
  /**
   * Creates an endpoint and returns its id. `group` names the call it belongs to: an engine may
   * relay a two-party bridge of one group more cheaply (rtpengine's direct mode); others ignore it.
   */
  createEndpoint(kind: EndpointKind, group?: string): Promise<string>;
  /** Answers a remote offer using exactly `codec`; returns the local answer SDP. */
  answer(endpointId: string, offer: string, codec: CodecName): Promise<string>;
  /**
   * Creates a local offer with these codecs (preference order); see {@link OfferOptions}.
   */
  offer(endpointId: string, codecs: readonly CodecName[], opts?: OfferOptions): Promise<string>;
  /**
   * Answers a new offer inside an established session (RFC 3264 §8: re-INVITE for a new address,
   * a session refresh or hold): keeps our port and the session's codec, mirrors the direction.
   * Rejects when the endpoint cannot renegotiate (the caller answers 488 and the session stays).
   */
  reanswer(endpointId: string, offer: string): Promise<string>;
  /**
   * An offer inside an established session (our side of an offerless re-INVITE, RFC 3261 §14.2):
   * same address and codec; the answer comes back through {@link acceptAnswer}.
   */
  reoffer(endpointId: string): Promise<string>;
  /** Applies the remote answer to our offer; returns the codec it chose. */
  acceptAnswer(endpointId: string, answer: string): Promise<CodecName>;
  /**
   * Sets who is in bridge `bridgeId` and who hears whom (replacing what it was). An endpoint
   * that was in another bridge leaves it. Changing the lists never renegotiates anything and
   * keeps each listener's RTP stream continuous.
   */
  setBridge(bridgeId: string, members: readonly BridgeMember[]): Promise<void>;
  /** Dissolves a bridge: its endpoints hear nothing and are heard by nobody. Idempotent. */
  closeBridge(bridgeId: string): Promise<void>;
  /**
   * Plays one DTMF digit to the endpoint's peer as RFC 4733 telephone-events (160 ms), with the
   * relayed audio to it paused meanwhile. False when the leg negotiated no telephone-event.
   */
  sendDigit(endpointId: string, digit: string): Promise<boolean>;
  /** Whether the endpoint's leg negotiated RFC 4733 telephone-event. */
  hasTelephoneEvent(endpointId: string): Promise<boolean>;
  /**
   * Whether the peer of an endpoint is expected to send media now (default true): false while
   * the party holds (a phone on hold may send nothing), true again on resume — the inactivity
   * clock restarts then.
   */
  expectMedia(endpointId: string, expected: boolean): Promise<void>;
  /**
   * The endpoint's outgoing stream goes on under a new SSRC (RFC 3550 §8): its peer has been
   * hearing another source that did not come through it (rtpengine's direct mode relays the
   * other party to the peer as it is), and a browser would not play this stream again under the
   * SSRC it heard before that other source.
   */
  newOutputSource(endpointId: string): Promise<void>;
  /** Closes an endpoint (it leaves its bridge). Idempotent. */
  closeEndpoint(endpointId: string): Promise<void>;
  stats(): Promise<MediaStats>;
  /**
   * Each endpoint's received stream as the gateway sees it (RFC 3550 receiver counters: packets
   * received and expected, interarrival jitter); endpoints unknown or silent so far are left out.
   * Media the gateway relays without seeing it (rtpengine's direct mode) comes as the far end's
   * latest RTCP report on it instead.
   */
  receiveStats(endpointIds: readonly string[]): Promise<Record<string, ReceiveCounters | ReportedQuality>>;
  /**
   * Fault injection for tests, a userspace stand-in for `tc netem` on one leg: drops `lossPct` of
   * the packets from and to the endpoint's peer and delays the rest by `delayMs`; `null` clears
   * it. The gateway's own counters see the loss (it happens before them, as on a network).
   * @internal
   */
  impair(endpointId: string, impairment: { lossPct: number; delayMs: number } | null): Promise<void>;
  /** Closes everything. */
  close(): Promise<void>;
}

/** Options for engines. */
export interface MediaOptions {
  /** Local address media sockets bind to. */
  bindAddress: string;
  /** Address advertised in SDP and ICE candidates (defaults to bindAddress). */
  announcedAddress?: string;
  /** Inclusive UDP port range for media, e.g. [20000, 29999]; random ports when absent. */
  portRange?: [number, number];
  /** Music on hold: an 8 kHz mono 16-bit WAV file; a built-in loop when absent. */
  musicOnHold?: string;
  /** Media inactivity timeout in ms (RTP from a sending peer); 0 or absent: off. */
  rtpTimeoutMs?: number;
  /** Prefix for endpoint ids after the kind (`webrtc-<prefix>7`), so ids stay unique across engine restarts. */
  idPrefix?: string;
}
