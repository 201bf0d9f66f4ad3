/**
 * WebRTC endpoint for browsers, on werift (pure TypeScript ICE, DTLS-SRTP, RTP).
 *
 * ICE validates the browser's address before DTLS completes, and werift only delivers media
 * from the selected candidate pair — so RTP from addresses that did not pass ICE never reaches
 * the bridge. Audio is G.711 only (DESIGN.md: no Opus↔G.711 transcoding in JavaScript), offered
 * as exactly the codec the other leg negotiated so packets relay untouched.
 */
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift';
import { log } from '../util/log.js';
import type { Endpoint } from './endpoint.js';
import { commonCodecs, parseAudio, SdpError, STATIC_PT, TELEPHONE_EVENT_PT, type CodecName } from './sdp.js';
import type { EndpointState, MediaOptions } from './types.js';

function codecParams(name: CodecName): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({ mimeType: `audio/${name}`, clockRate: 8000, channels: 1, payloadType: STATIC_PT[name] });
}

/** Waits until ICE gathering completes, so the SDP carries every candidate (no trickle over SIP). */
async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        unSubscribe();
        resolve();
      }
    });
  });
}

/**
 * No server-reflexive gathering: the gateway announces its own reachable address
 * (`media.announcedAddress`), so it needs no STUN server — but werift's ICE falls back to
 * Google's whenever none is configured and waits for the answer while it gathers: ~20–50 ms
 * per offer or answer with internet access, and 5 s per offer where UDP out is blocked
 * (measured: every offer took 5,005 ms with an unreachable STUN server). Called between
 * creating the transports and gathering (setLocalDescription).
 */
function withoutStun(pc: RTCPeerConnection): void {
  for (const t of pc.iceTransports) (t.connection as { stunServer?: unknown }).stunServer = undefined;
}

/** A werift-backed WebRTC endpoint. */
export class WebRtcEndpoint implements Endpoint {
  readonly kind = 'webrtc' as const;
  onRtp: ((packet: Buffer) => void) | undefined;
  onState: ((state: EndpointState) => void) | undefined;
  readonly droppedUnverified = 0;
  lastRxAt = 0;
  peerSends = false;
  /** The browser's telephone-event payload type (its RTCDTMFSender sends RFC 4733 with it). */
  telephoneEventPt: number | undefined;
  private pc?: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: 'audio' });
  codec: CodecName | undefined;
  private closed = false;

  constructor(
    readonly id: string,
    private readonly opts: MediaOptions,
  ) {}

  private createPc(codecs: readonly CodecName[]): RTCPeerConnection {
    const o = this.opts;
    const specific = o.bindAddress !== '0.0.0.0';
    const pc = new RTCPeerConnection({
      // telephone-event lets the browser's RTCDTMFSender send RFC 4733 digits (relayed to SIP legs).
      codecs: { audio: [...codecs.map(codecParams), new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, channels: 1, payloadType: this.telephoneEventPt ?? TELEPHONE_EVENT_PT })] },
      headerExtensions: { audio: [] },
      iceUseIpv6: false,
      iceUseTcp: false,
      ...(specific ? { iceInterfaceAddresses: { udp4: o.bindAddress }, iceAdditionalHostAddresses: [o.announcedAddress ?? o.bindAddress] } : {}),
      ...(o.portRange ? { icePortRange: o.portRange } : {}),
      ...(specific ? { iceFilterCandidatePair: (pair) => pair.localCandidate.host === (o.announcedAddress ?? o.bindAddress) } : {}),
    });
    pc.connectionStateChange.subscribe((s) => {
      const map: Record<string, EndpointState> = { new: 'new', connecting: 'connecting', connected: 'connected', failed: 'failed', closed: 'closed', disconnected: 'connecting' };
      this.onState?.(map[s] ?? 'connecting');
    });
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        this.lastRxAt = performance.now();
        this.onRtp?.(rtp.serialize());
      });
    });
    this.pc = pc;
    return pc;
  }

  private async attachTrack(t: RTCRtpTransceiver): Promise<void> {
    t.setDirection('sendrecv');
    await t.sender.replaceTrack(this.track);
  }

  async answer(offer: string, codec: CodecName): Promise<string> {
    const desc = parseAudio(offer);
    if (!desc.webrtc) throw new SdpError('plain RTP SDP on a WebRTC endpoint');
    this.telephoneEventPt = desc.telephoneEvent;
    this.codec = codec;
    this.expect(desc.direction);
    const pc = this.createPc([codec]);
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const t = pc.getTransceivers().find((x) => x.kind === 'audio');
    if (!t) throw new SdpError('offer has no audio');
    await this.attachTrack(t);
    const answer = await pc.createAnswer();
    withoutStun(pc);
    await pc.setLocalDescription(answer);
    await gathered(pc);
    return pc.localDescription!.sdp;
  }

  async offer(codecs: readonly CodecName[], telephoneEvent?: number): Promise<string> {
    if (telephoneEvent !== undefined) this.telephoneEventPt = telephoneEvent;
    const pc = this.createPc(codecs);
    pc.addTransceiver(this.track, { direction: 'sendrecv' });
    const offer = await pc.createOffer();
    withoutStun(pc);
    await pc.setLocalDescription(offer);
    await gathered(pc);
    return pc.localDescription!.sdp;
  }

  /**
   * A new offer inside the session (re-INVITE or UPDATE from a browser, RFC 3264 §8): hold and
   * resume by direction, an ICE restart (new ufrag/pwd: werift restarts ICE and gathers again;
   * DTLS and SRTP keys stay), or a refresh. The session's codec must still be offered — the other
   * leg's packets relay untouched — otherwise the offer is refused (the caller answers 488 and
   * the session stays as it was).
   */
  async reanswer(offer: string): Promise<string> {
    const pc = this.pc;
    if (!pc || this.closed) throw new SdpError('no WebRTC session to renegotiate');
    const desc = parseAudio(offer);
    if (!desc.webrtc) throw new SdpError('plain RTP SDP on a WebRTC endpoint');
    if (this.codec && !desc.codecs.some((c) => c.name === this.codec)) throw new SdpError(`re-offer drops the session codec ${this.codec}`);
    this.telephoneEventPt = desc.telephoneEvent ?? this.telephoneEventPt;
    this.expect(desc.direction);
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const answer = await pc.createAnswer();
    withoutStun(pc);
    await pc.setLocalDescription(answer);
    await gathered(pc);
    return pc.localDescription!.sdp;
  }

  /**
   * Our offer inside the session, for an offerless re-INVITE (RFC 3261 §14.2: the 200 OK carries
   * the offer, the ACK the answer — applied with {@link acceptAnswer}).
   */
  async reoffer(): Promise<string> {
    const pc = this.pc;
    if (!pc || this.closed) throw new SdpError('no WebRTC session to renegotiate');
    const offer = await pc.createOffer();
    withoutStun(pc);
    await pc.setLocalDescription(offer);
    await gathered(pc);
    return pc.localDescription!.sdp;
  }

  async acceptAnswer(answer: string): Promise<CodecName> {
    const desc = parseAudio(answer);
    const chosen = commonCodecs(desc)[0];
    if (!chosen) throw new SdpError('answer has no G.711 codec');
    this.telephoneEventPt = desc.telephoneEvent;
    this.codec = chosen;
    this.expect(desc.direction);
    await this.pc!.setRemoteDescription({ type: 'answer', sdp: answer });
    return chosen;
  }

  /** A new description from the peer: whether media should arrive, counted from now. */
  private expect(direction: string): void {
    this.peerSends = direction === 'sendrecv' || direction === 'sendonly';
    this.lastRxAt = performance.now();
  }

  sendRtp(packet: Buffer, dtmf = false): void {
    // werift would stamp an event packet with the audio payload type; digits toward a browser
    // are signalled, not played (in-call control, issue 6).
    if (this.closed || dtmf) return;
    // werift rewrites SSRC, sequence and timestamp offsets and the payload type for this sender.
    this.track.writeRtp(packet);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onRtp = undefined;
    this.track.stop();
    this.pc?.close().catch((err: Error) => log.debug('media.webrtc', `${this.id} close: ${err.message}`));
    this.onState?.('closed');
  }
}
