/**
 * Contracts between the transport layer and the layers above it (RFC 3261 §18).
 */
import type { SipRequest, SipResponse } from '../message.js';

/** Transport protocol names as they appear in Via (RFC 3261 §20.42, RFC 7118 §5). */
export type TransportName = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

/** True for connection-oriented transports (RFC 3261 §17: reliable ⇒ no retransmission timers). */
export function isReliable(t: TransportName): boolean {
  return t !== 'UDP';
}

/** Who a message came from. */
export interface Source {
  transport: TransportName;
  address: string;
  port: number;
  /** The connection it arrived on (stream and WebSocket transports; for UDP the socket's id). */
  flowId: string;
  /** Identity proven when the connection was opened (a token checked at the WebSocket upgrade). */
  auth?: FlowAuth;
  /**
   * The source is banned (abuse guard) and this request got through only because it belongs to a
   * live dialog or carries credentials: the core serves it only if those verify, silently otherwise.
   */
  banned?: boolean;
}

/** An identity bound to a connection. */
export interface FlowAuth {
  user: string;
  role: 'agent' | 'supervisor' | 'admin';
}

/** Where to send a request: an existing flow (WebSocket/TCP clients), or an address to reach. */
export interface Target {
  transport: TransportName;
  host: string;
  port: number;
  /** Prefer this connection; required for WebSocket clients, which cannot be dialled. */
  flowId?: string;
}

/** Thrown (or rejected) when a message cannot be sent: closed flow, unreachable host, … */
export class TransportError extends Error {
  override name = 'TransportError';
}

/** What the transaction layer needs from the transport layer. */
export interface MessageSender {
  /** Sends a request, stamping nothing: the top Via must already be set. */
  sendRequest(req: SipRequest, target: Target): Promise<void>;
  /** Sends a response back along the path of the request it answers (RFC 3261 §18.2.2). */
  sendResponse(res: SipResponse, source: Source): Promise<void>;
  /** The sent-by (host, port) to put in a Via for this transport. */
  viaFor(transport: TransportName): { host: string; port: number };
  /**
   * A request on this connection authenticated (digest): it leaves its address's connection cap
   * (an office NAT's phones must not be limited by it). Optional for senders without caps.
   */
  flowAuthenticated?(source: Source): void;
}
