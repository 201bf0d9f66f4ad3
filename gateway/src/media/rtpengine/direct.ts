/**
 * Direct two-party calls inside rtpengine (`media.rtpengineDirect`, docs/media.md).
 *
 * Every endpoint of one gateway call lives in one rtpengine call, as two monologues: `ext-<id>`
 * (the peer: browser, phone, trunk) and `int-<id>` (the worker). A bridge of exactly two parties
 * who hear each other is then relayed by rtpengine alone: an offer/answer between the two `ext`
 * monologues, replaying the SDP each peer gave, makes rtpengine forward peer to peer in one hop,
 * with Node out of the packet path. The `port latching` flag keeps every local port, so neither
 * peer notices: no re-INVITE, and a browser's ICE and DTLS-SRTP stay as they are (measured with a
 * werift client: same ports, ICE credentials and fingerprint; audio both ways). When the bridge
 * needs the worker — music, a third party, a one-way ear, a digit to inject, a re-INVITE — each
 * `ext` is paired back with its own `int` the same way, and the call stays on the worker from
 * then on (the engine's `leftDirect`). Going back, the worker's stream to the peer takes a new
 * SSRC: Chrome plays only the newest SSRC it has not seen before on an m-line without a=ssrc, so
 * a browser that heard the worker, then the other party directly, would not play the worker's
 * first SSRC again. For the same reason a call is never paired a second time: the browser would
 * be back on an SSRC it heard before the worker's (between two browsers that lost one direction).
 *
 * A caller whose INVITE goes on to one callee is peer to peer from the first offer: the callee's
 * offer is the caller's, cut to G.711 and telephone-event, written by rtpengine for the callee
 * (`ext-<caller>` → `ext-<callee>`), and the callee's answer answers the caller the same way —
 * one ng request each way, as a SIP proxy with rtpengine sends, and no worker. The worker's
 * sides are negotiated only when the call first needs the worker ({@link attachWorker}), with
 * port latching like any pairing. Only when both peers agree on RFC 4733: a caller without it
 * (SIP INFO keys) or a callee declining it has the worker in the middle to convert.
 *
 * While paired, the worker sees none of the pair's packets, so its silence detection is paused
 * and liveness comes from rtpengine (`query`: each stream's last packet); RFC 4733 digits pass
 * end to end in the media and reach the gateway from rtpengine's DTMF log; the worker's receive
 * counters pause and line quality comes from the RTCP reports rtpengine records
 * ({@link reportedQuality}). Pairing needs the same codec and payload types on both sides
 * (rtpengine then forwards packets unchanged); otherwise the call stays on the worker.
 */
import type { ReportedQuality } from '../receive-stats.js';
import type { MediaEngine } from '../types.js';
import { parseAudio, type AudioDescription } from '../sdp.js';

/** The ng flags for one side, as the engine builds them. */
export type SideFlags = Record<string, unknown> & { flags?: string[] };

/** What the pairing needs to know of an endpoint. */
export interface PairableEndpoint {
  readonly id: string;
  /** rtpengine tags of its peer side and its worker side. */
  readonly ext: string;
  readonly int: string;
  /** The SDP the peer gave last (offer or answer), replayed when re-pairing. */
  peerSdp?: string | undefined;
  /** The SDP the worker gave last. */
  workerSdp?: string | undefined;
  /** Who offered in the last exchange: the peer (`ext`) or we (`int`). */
  offerer?: 'ext' | 'int' | undefined;
  /** The port rtpengine gave the peer (checked unchanged after re-pairing). */
  peerFacingPort?: number | undefined;
  /** The endpoint whose peer it is relayed to directly, if any. */
  pairedWith?: PairableEndpoint | undefined;
}

/** The answer of the endpoint's last exchange: what is on the wire. */
function negotiated(e: PairableEndpoint): AudioDescription | undefined {
  const answer = e.offerer === 'ext' ? e.workerSdp : e.peerSdp;
  if (!answer || !e.peerSdp) return undefined;
  try {
    const a = parseAudio(answer);
    const peer = parseAudio(e.peerSdp);
    return peer.direction === 'sendrecv' && a.direction === 'sendrecv' ? a : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether two endpoints can be relayed peer to peer unchanged: both negotiated, both sending and
 * receiving, the same codec on the same payload type, and the same telephone-event type (or none).
 */
export function canPair(a: PairableEndpoint, b: PairableEndpoint): boolean {
  const na = negotiated(a);
  const nb = negotiated(b);
  if (!na || !nb || a.peerFacingPort === undefined || b.peerFacingPort === undefined) return false;
  const ca = na.codecs[0];
  const cb = nb.codecs[0];
  return !!ca && !!cb && ca.name === cb.name && ca.pt === cb.pt && na.telephoneEvent === nb.telephoneEvent;
}

/** One ng offer/answer, returning the SDP rtpengine wrote. */
export type Exchange = (command: 'offer' | 'answer', params: Record<string, unknown>) => Promise<string>;

const withLatching = (side: SideFlags): SideFlags => ({ ...side, flags: [...(side.flags ?? []), 'port latching'] });

/** The audio port in an SDP body. */
export const port = (sdp: string): number | undefined => {
  const m = /^m=audio (\d+)/m.exec(sdp);
  return m ? Number(m[1]) : undefined;
};

/**
 * Pairs `a`'s and `b`'s peer sides: rtpengine forwards between the two peers directly. Throws
 * when rtpengine moved a port the peers know (the caller then pairs both back with the worker).
 */
export async function pairPeers(ng: Exchange, a: PairableEndpoint, b: PairableEndpoint, sides: { a: SideFlags; b: SideFlags }): Promise<void> {
  const toB = await ng('offer', { 'from-tag': a.ext, 'to-tag': b.ext, sdp: a.peerSdp, ...withLatching(sides.b) });
  const toA = await ng('answer', { 'from-tag': a.ext, 'to-tag': b.ext, sdp: b.peerSdp, ...withLatching(sides.a) });
  a.pairedWith = b;
  b.pairedWith = a;
  if (port(toA) !== a.peerFacingPort || port(toB) !== b.peerFacingPort) {
    throw new Error(`rtpengine moved a peer's port while pairing (${a.peerFacingPort} → ${port(toA)}, ${b.peerFacingPort} → ${port(toB)})`);
  }
}

/**
 * SDP one peer gave, as the other peer gets it through rtpengine: without the sender's `a=ssrc`
 * lines (RFC 5576). A browser that was told the SSRC would bind its track to it and might drop
 * the worker's stream once the call leaves direct mode; unsignaled, it plays whichever SSRC is
 * newest, as it does when the worker was first.
 */
export function withoutSsrc(sdp: string): string {
  return sdp.replace(/^a=ssrc(?:-group)?:.*(?:\r?\n|$)/gm, '');
}

/** The worker's side of an endpoint: what {@link attachWorker} negotiates with. */
export interface WorkerSide {
  answer(offer: string): Promise<string>;
  offer(): Promise<string>;
  acceptAnswer(answer: string): Promise<unknown>;
}

/**
 * Pairs `e`'s peer side with its worker side for the first time: the call began peer to peer
 * (the callee's offer was made from the caller's, {@link MediaEngine.offer}'s `peer`), so the
 * worker never negotiated. Like {@link pairWithWorker}, with the worker's SDP made now: the
 * peer's offer goes to the worker and its answer comes back (the peer offered), or the worker
 * offers and the peer's answer is replayed to it (we offered). Port latching keeps the ports
 * the peer knows; the SDP rtpengine writes for the peer is not sent (and returned, to check).
 */
export async function attachWorker(ng: Exchange, e: PairableEndpoint, worker: WorkerSide, side: SideFlags, plain: SideFlags): Promise<string> {
  let toPeer: string;
  if (e.offerer === 'ext') {
    const toWorker = await ng('offer', { 'from-tag': e.ext, 'to-tag': e.int, sdp: e.peerSdp, ...withLatching(plain) });
    e.workerSdp = await worker.answer(toWorker);
    toPeer = await ng('answer', { 'from-tag': e.ext, 'to-tag': e.int, sdp: e.workerSdp, ...withLatching(side) });
  } else {
    const workerOffer = await worker.offer();
    toPeer = await ng('offer', { 'from-tag': e.int, 'to-tag': e.ext, sdp: workerOffer, ...withLatching(side) });
    await worker.acceptAnswer(await ng('answer', { 'from-tag': e.int, 'to-tag': e.ext, sdp: e.peerSdp, ...withLatching(plain) }));
    e.workerSdp = workerOffer;
  }
  e.pairedWith = undefined;
  return toPeer;
}

/** Pairs `e`'s peer side with its own worker side again, replaying its last exchange. */
export async function pairWithWorker(ng: Exchange, e: PairableEndpoint, side: SideFlags, plain: SideFlags): Promise<void> {
  if (e.offerer === 'ext') {
    await ng('offer', { 'from-tag': e.ext, 'to-tag': e.int, sdp: e.peerSdp, ...withLatching(plain) });
    await ng('answer', { 'from-tag': e.ext, 'to-tag': e.int, sdp: e.workerSdp, ...withLatching(side) });
  } else {
    await ng('offer', { 'from-tag': e.int, 'to-tag': e.ext, sdp: e.workerSdp, ...withLatching(side) });
    await ng('answer', { 'from-tag': e.int, 'to-tag': e.ext, sdp: e.peerSdp, ...withLatching(plain) });
  }
  e.pairedWith = undefined;
}

/**
 * The last packet rtpengine received from `tag`'s peer (epoch seconds; 0 = none yet), from an ng
 * `query` reply.
 */
export function lastPacketFrom(query: Record<string, unknown>, tag: string): number {
  const tags = query.tags as Record<string, { medias?: Array<{ streams?: Array<{ 'last packet'?: number; flags?: unknown[] }> }> }> | undefined;
  let last = 0;
  for (const m of tags?.[tag]?.medias ?? []) {
    for (const s of m.streams ?? []) {
      const isRtcp = (s.flags ?? []).some((f) => String(f) === 'RTCP');
      if (!isRtcp && typeof s['last packet'] === 'number') last = Math.max(last, s['last packet']);
    }
  }
  return last;
}

/** One entry of rtpengine's per-SSRC report list (`query` → `SSRC` → … → `MOS progression`). */
interface MosEntry {
  MOS?: number;
  'reported at'?: number;
  'packet loss'?: number;
  jitter?: number;
  'round-trip time'?: number;
}

/** The SSRC of what `tag`'s peer sends, from its RTP stream in an ng `query` reply. */
function ingressSsrc(query: Record<string, unknown>, tag: string): number | undefined {
  const tags = query.tags as Record<string, { medias?: Array<{ streams?: Array<{ SSRC?: number; flags?: unknown[] }> }> }> | undefined;
  for (const m of tags?.[tag]?.medias ?? []) {
    for (const s of m.streams ?? []) if (typeof s.SSRC === 'number' && (s.flags ?? []).some((f) => String(f) === 'RTP')) return s.SSRC;
  }
  return undefined;
}

/** The latest report rtpengine recorded on `ssrc`, if any. */
function latestReport(query: Record<string, unknown>, ssrc: number | undefined): MosEntry | undefined {
  const ssrcs = (query.SSRC ?? {}) as Record<string, { 'MOS progression'?: { entries?: MosEntry[] } }>;
  let latest: MosEntry | undefined;
  for (const e of ssrc === undefined ? [] : (ssrcs[String(ssrc)]?.['MOS progression']?.entries ?? [])) {
    // An entry with MOS 0 is a report that carried no block on this stream yet.
    if (typeof e['reported at'] === 'number' && e.MOS && (!latest || e['reported at'] >= (latest['reported at'] ?? 0))) latest = e;
  }
  return latest;
}

/**
 * The line of `tag`'s peer in a direct pair, from the RTCP reports (RFC 3550 §6.4.2) rtpengine
 * recorded: what the other party reported on the peer's stream — or, when that party sends no
 * reports rtpengine can use (baresip's are not recorded), what the peer itself reported on the
 * stream it receives: the same line, the other direction. rtpengine keeps loss in percent,
 * jitter in ms, round trip in µs, MOS × 10, times in seconds. Undefined until a report came.
 */
export function reportedQuality(query: Record<string, unknown>, tag: string, pairedTag: string): ReportedQuality | undefined {
  const e = latestReport(query, ingressSsrc(query, tag)) ?? latestReport(query, ingressSsrc(query, pairedTag));
  if (!e) return undefined;
  return { reportedAt: e['reported at']! * 1000, lossPct: e['packet loss'] ?? 0, jitterMs: e.jitter ?? 0, rttMs: (e['round-trip time'] ?? 0) / 1000 };
}
