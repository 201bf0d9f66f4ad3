/**
 * Plain RTP endpoint for SIP devices and trunks (RFC 3550, RFC 3551 G.711).
 *
 * Symmetric RTP: packets are accepted only from the IP address the peer's SDP named; the first
 * one latches the port (phones behind NAT send from another port than they announce), and we
 * send to the latched address from then on. Everything else is dropped and counted.
 */
import dgram from 'node:dgram';
import { log } from '../util/log.js';
import type { Endpoint } from './endpoint.js';
import { buildPlainSdp, commonCodecs, parseAudio, SdpError, STATIC_PT, TELEPHONE_EVENT_PT, type CodecName, type Direction } from './sdp.js';

/** RFC 3264 §6.1: the answer's direction for an offered one. */
const MIRROR: Record<Direction, Direction> = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' };
import type { EndpointState } from './types.js';

/** A plain RTP endpoint on one UDP socket (RTCP, if any arrives multiplexed, is ignored). */
export class RtpEndpoint implements Endpoint {
  readonly kind = 'rtp' as const;
  onRtp: ((packet: Buffer) => void) | undefined;
  onState: ((state: EndpointState) => void) | undefined;
  droppedUnverified = 0;
  lastRxAt = 0;
  peerSends = false;
  private remote?: { address: string; port: number; latched: boolean; sdpPort: number };
  private sendPt = 0;
  codec: CodecName | undefined;
  /** The peer's telephone-event payload type (RFC 4733), once negotiated. */
  telephoneEventPt: number | undefined;
  private closed = false;
  private readonly sessionId = Math.floor(Math.random() * 1e9);
  private version = 1;

  private constructor(
    readonly id: string,
    private readonly socket: dgram.Socket,
    private readonly announced: string,
  ) {
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    socket.on('error', (err) => log.warn('media.rtp', `${id} socket error: ${err.message}`));
  }

  /** Binds a socket (in the port range if given) and returns the endpoint. */
  static async create(id: string, bindAddress: string, announced: string, portRange?: [number, number]): Promise<RtpEndpoint> {
    const socket = dgram.createSocket('udp4');
    const tryBind = (port: number) =>
      new Promise<boolean>((resolve) => {
        const onErr = () => resolve(false);
        socket.once('error', onErr);
        socket.bind(port, bindAddress, () => {
          socket.off('error', onErr);
          resolve(true);
        });
      });
    if (portRange) {
      const [lo, hi] = portRange;
      const span = Math.floor((hi - lo + 1) / 2);
      const start = Math.floor(Math.random() * span);
      let bound = false;
      // Even ports first (RFC 3550 §11 convention), then give up.
      for (let k = 0; k < Math.min(span, 64) && !bound; k++) bound = await tryBind(lo + 2 * ((start + k) % span));
      if (!bound) throw new Error(`no free RTP port in ${lo}-${hi}`);
    } else {
      await tryBind(0);
    }
    return new RtpEndpoint(id, socket, announced);
  }

  get port(): number {
    return this.socket.address().port;
  }

  private setRemote(sdp: string): ReturnType<typeof parseAudio> {
    const desc = parseAudio(sdp);
    if (desc.webrtc) throw new SdpError('WebRTC SDP on a plain RTP endpoint');
    this.remote = { address: desc.address, port: desc.port, latched: false, sdpPort: desc.port };
    this.expect(desc.direction);
    this.onState?.('connected');
    return desc;
  }

  async answer(offer: string, codec: CodecName): Promise<string> {
    const desc = this.setRemote(offer);
    if (!desc.codecs.some((x) => x.name === codec)) throw new SdpError(`offer lacks ${codec}`);
    this.adopt(desc, codec);
    return this.describe(codec);
  }

  /** Takes the peer's payload types for `codec` and telephone-event from its description. */
  private adopt(desc: ReturnType<typeof parseAudio>, codec: CodecName): void {
    this.sendPt = desc.codecs.find((c) => c.name === codec)!.pt;
    this.codec = codec;
    this.telephoneEventPt = desc.telephoneEvent;
  }

  /** Our answer: one codec, telephone-event if the peer offered it, the given direction. */
  private describe(codec: CodecName, direction?: Direction): string {
    return buildPlainSdp({
      address: this.announced, port: this.port, codecs: [codec], sessionId: this.sessionId, version: this.version++,
      telephoneEvent: this.telephoneEventPt, ...(direction ? { direction } : {}),
    });
  }

  async reanswer(offer: string): Promise<string> {
    const desc = parseAudio(offer);
    if (desc.webrtc) throw new SdpError('WebRTC SDP on a plain RTP endpoint');
    // Keep the session's codec when still offered: the other leg's packets relay unchanged.
    const codec = this.codec && desc.codecs.some((c) => c.name === this.codec) ? this.codec : commonCodecs(desc)[0];
    if (!codec) throw new SdpError('re-offer has no G.711 codec');
    // A new address or port in the SDP moves the stream (and re-latches); the same one keeps the latch.
    const moved = !this.remote || this.remote.address !== desc.address || this.remote.sdpPort !== desc.port;
    if (moved) this.remote = { address: desc.address, port: desc.port, latched: false, sdpPort: desc.port };
    this.expect(desc.direction);
    this.adopt(desc, codec);
    return this.describe(codec, MIRROR[desc.direction]);
  }

  async reoffer(): Promise<string> {
    if (!this.codec) throw new SdpError('no RTP session to renegotiate');
    return this.describe(this.codec);
  }

  async offer(codecs: readonly CodecName[], telephoneEvent = TELEPHONE_EVENT_PT): Promise<string> {
    return buildPlainSdp({ address: this.announced, port: this.port, codecs, sessionId: this.sessionId, version: this.version++, telephoneEvent });
  }

  async acceptAnswer(answer: string): Promise<CodecName> {
    const desc = this.setRemote(answer);
    const chosen = commonCodecs(desc)[0];
    if (!chosen) throw new SdpError('answer has no G.711 codec');
    this.adopt(desc, chosen);
    return chosen;
  }

  sendRtp(packet: Buffer, dtmf = false): void {
    const r = this.remote;
    if (!r || this.closed || r.port === 0) return;
    if (dtmf) {
      // RFC 4733 events keep their payload, with the peer's event payload type.
      if (this.telephoneEventPt === undefined) return;
      packet[1] = (packet[1]! & 0x80) | this.telephoneEventPt;
      this.socket.send(packet, r.port, r.address);
      return;
    }
    // Relay as-is, with our negotiated payload type for the peer.
    if ((packet[1]! & 0x7f) !== this.sendPt && (packet[1]! & 0x7f) <= STATIC_PT.PCMA) packet[1] = (packet[1]! & 0x80) | this.sendPt;
    this.socket.send(packet, r.port, r.address);
  }

  /** A new description from the peer: whether media should arrive, counted from now. */
  private expect(direction: Direction): void {
    this.peerSends = direction === 'sendrecv' || direction === 'sendonly';
    this.lastRxAt = performance.now();
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const r = this.remote;
    if (!r || rinfo.address !== r.address) {
      this.droppedUnverified++;
      return;
    }
    // Only RTP counts, and only RTP latches: RTCP (RFC 5761 §4: payload types 72-76 seen through
    // the RTP header) meant for another stream can land here — a peer without rtcp-mux sends a
    // stream's RTCP to its RTP port + 1 (RFC 3550 §11), which may be this endpoint's port — and
    // latching to its source would drop the real stream for the rest of the call.
    if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
    const pt = msg[1]! & 0x7f;
    if (pt >= 72 && pt <= 76) return;
    if (!r.latched) {
      r.port = rinfo.port;
      r.latched = true;
    } else if (rinfo.port !== r.port) {
      this.droppedUnverified++;
      return;
    }
    this.lastRxAt = performance.now();
    this.onRtp?.(msg);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onRtp = undefined;
    this.socket.close();
    this.onState?.('closed');
  }
}
