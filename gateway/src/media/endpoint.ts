/**
 * What every endpoint implementation provides inside the engine (not a public contract).
 */
import type { EndpointKind, EndpointState } from './types.js';
import type { CodecName } from './sdp.js';

/** An endpoint as the engine drives it. */
export interface Endpoint {
  readonly id: string;
  readonly kind: EndpointKind;
  answer(offer: string, codec: CodecName): Promise<string>;
  offer(codecs: readonly CodecName[], telephoneEvent?: number): Promise<string>;
  acceptAnswer(answer: string): Promise<CodecName>;
  /** See {@link MediaEngine.reanswer}. */
  reanswer(offer: string): Promise<string>;
  /** See {@link MediaEngine.reoffer}. */
  reoffer(): Promise<string>;
  /**
   * Sends one RTP packet (header + payload, unencrypted). `dtmf` marks an RFC 4733
   * telephone-event packet: it goes out with this leg's negotiated event payload type, or is
   * dropped when the leg did not negotiate telephone-event.
   */
  sendRtp(packet: Buffer, dtmf?: boolean): void;
  /** The negotiated audio codec, once known. */
  readonly codec: CodecName | undefined;
  /** The payload type this leg's peer sends RFC 4733 events with, when negotiated. */
  readonly telephoneEventPt: number | undefined;
  /** Receives every RTP packet from the peer (SRTP already removed). */
  onRtp: ((packet: Buffer) => void) | undefined;
  onState: ((state: EndpointState) => void) | undefined;
  /** Counts packets dropped for coming from an unverified address. */
  readonly droppedUnverified: number;
  /**
   * Liveness: when (performance.now() ms) the last RTP packet from the peer arrived, or when the
   * peer's description was applied if none arrived since; 0 before there is a peer.
   */
  lastRxAt: number;
  /** Whether the peer's description says it sends media (sendrecv or sendonly, RFC 3264 §6.1). */
  readonly peerSends: boolean;
  close(): void;
}
