/**
 * The SDK's own signaling contract. `Softphone` and `Call` use only this; sip.js lives behind it
 * in `sipjs.ts` and can be replaced (JsSIP, a thin UA of our own) without touching the public API.
 */
import type { CallData, CenterCommand } from '@switchboard/protocol';
import type { SwitchboardError } from '../errors.js';

/** Transport connection state. */
export type SignalingConnectionState = 'disconnected' | 'connecting' | 'connected';
/** Registration state. */
export type SignalingRegistrationState = 'unregistered' | 'registering' | 'registered';

/** How a session ended. */
export interface SessionEnd {
  /** Who ended it: this side, the far side, or a failure. */
  by: 'local' | 'remote' | 'error';
  /** Set when the session failed (a rejected INVITE, lost media, …). */
  error?: SwitchboardError;
  /** An incoming call cancelled because another of the user's devices answered it (RFC 3326 cause 200). */
  answeredElsewhere?: boolean;
}

/** Events of a signaling session. */
export type SignalingSessionEvents = {
  /** The far end is ringing (180/183). */
  progress: [status: number];
  /** The session is established and media flows. */
  accepted: [];
  /** A control message from the gateway (e.g. `{ type: 'hold', onHold: true }`). */
  control: [message: Record<string, unknown>];
  /** The session ended (who ended it, or the error). */
  ended: [end: SessionEnd];
};

/** The far end of a call. */
export interface RemoteParty {
  /** User name or number. */
  user: string;
  /** Display name, when the far end sent one. */
  displayName?: string;
}

/** Where a queue call came from (see {@link Call.queue}). */
export interface QueueInfo {
  /** The queue's name. */
  name: string;
  /** How long the caller had waited when the call rang here, seconds. */
  waitSeconds: number;
  /** The caller (number or user name), when known. */
  caller?: string;
}

/** One call's signaling and media session. */
export interface SignalingSession {
  /** `incoming` for an offered call, `outgoing` for one we placed. */
  readonly direction: 'incoming' | 'outgoing';
  /** The far end. */
  readonly remote: RemoteParty;
  /** The SIP Call-ID of this session (names it to the gateway, e.g. to complete a transfer). */
  readonly callId: string;
  /**
   * The gateway's id for the call (its id in the call records), from the gateway's
   * `X-Switchboard-Call-Id` header: on an incoming call at once, on an outgoing one from the
   * first ringing or answer response. Undefined until then (or from another server).
   */
  readonly gatewayCallId: string | undefined;
  /** For a call offered from a queue: the queue, the caller's wait so far (s) and the caller. */
  readonly queue?: QueueInfo;
  /** The call's data as the gateway sent it with the offer or the answer (`X-Switchboard-Call-Data`). */
  readonly callData: CallData | undefined;
  /** Remote audio, once established. */
  readonly remoteStream: MediaStream | undefined;
  /** The microphone stream sent, once established (none for sessions without media here). */
  readonly localStream?: MediaStream | undefined;
  /** The media connection's statistics (W3C webrtc-stats), when there is one. Optional for custom signaling. */
  getStats?(): Promise<RTCStatsReport | undefined>;
  /** Answers an incoming session. */
  accept(): Promise<void>;
  /** Declines an incoming session (486 Busy Here). */
  reject(): Promise<void>;
  /** Cancels, rejects or ends the session, whichever applies. */
  hangup(): Promise<void>;
  /** Stops (or resumes) sending the microphone's audio. */
  setMuted(muted: boolean): void;
  /** Sends a control request to the gateway (in-dialog INFO); rejects with a coded error. */
  control(message: Record<string, unknown>): Promise<void>;
  /** Sends RFC 4733 digits in the media stream; false when the session cannot (not negotiated). */
  sendDtmf(digits: string, durationMs: number, gapMs: number): boolean;
  /**
   * After a reconnect: tells the gateway this session is here (on the new connection) and learns
   * whether it still exists there — `gone` when the gateway ended it meanwhile (481).
   */
  reattach(): Promise<'ok' | 'gone'>;
  /** Ends a session the gateway no longer has, reporting `error` as the reason. */
  abandon(error: SwitchboardError): Promise<void>;
  /** The media path's ICE state (`connected`, `disconnected`, `failed`…), when known. */
  readonly iceConnectionState: string | undefined;
  /** Renegotiates with an ICE restart (a new network path after a reconnect or a network change). */
  restartIce(): Promise<void>;
  /**
   * Captures the microphone again with the signaling config's `audio` constraints as they are now
   * (another device) and sends that track instead, without renegotiating. Optional: sessions
   * without media here (device mode) have none.
   */
  useAudioInput?(): Promise<void>;
  /** Adds an event listener. */
  on<K extends keyof SignalingSessionEvents>(event: K, fn: (...args: SignalingSessionEvents[K]) => void): unknown;
}

/** Events of the signaling client. */
export type SignalingClientEvents = {
  /** `lost` is true when the connection dropped without `disconnect()` (the Softphone reconnects). */
  connection: [state: SignalingConnectionState, error?: SwitchboardError, lost?: boolean];
  /** The registration changed. */
  registration: [state: SignalingRegistrationState, error?: SwitchboardError];
  /** A call is offered. */
  incoming: [session: SignalingSession];
  /** An event pushed by the gateway outside any call (agent state, statistics). */
  message: [body: Record<string, unknown>];
};

/** The signaling client. */
export interface SignalingClient {
  /** Opens the connection and registers; rejects with a coded error. */
  connect(): Promise<void>;
  /** Unregisters and closes. */
  disconnect(): Promise<void>;
  /**
   * Opens the connection again at `server` (a URL with a fresh token) and registers again; the
   * sessions in progress stay. Rejects with a coded error.
   */
  reconnect(server: string): Promise<void>;
  /**
   * Starts an outgoing session (the INVITE is sent at once; failures arrive as `ended`), with
   * extra SIP headers (`Name: value`) when given — e.g. `X-Switchboard-Supervise: monitor`.
   */
  invite(target: string, opts?: { headers?: string[] }): Promise<SignalingSession>;
  /**
   * Sends a contact-center command to the gateway (SIP MESSAGE, docs/protocol.md §5) and
   * resolves with its JSON reply; rejects with a coded error carrying the gateway's code.
   */
  command(message: CenterCommand): Promise<Record<string, unknown>>;
  /** Adds an event listener. */
  on<K extends keyof SignalingClientEvents>(event: K, fn: (...args: SignalingClientEvents[K]) => void): unknown;
}

/** What a signaling implementation is built from. */
export interface SignalingConfig {
  /** WebSocket URL including the access token. */
  server: string;
  /** The SIP user (the token's subject). */
  user: string;
  /** The SIP domain (the gateway's host name). */
  domain: string;
  /** The User-Agent header value. */
  userAgent: string;
  /** STUN/TURN servers for the peer connection (none: host candidates only). */
  iceServers?: RTCIceServer[];
  /** The microphone constraints for each capture (device, echo cancellation…); `true` when absent. */
  audio?: () => MediaTrackConstraints | true;
}

/** Creates a signaling client (swap this to replace sip.js). */
export type SignalingFactory = (config: SignalingConfig) => SignalingClient;
