/**
 * Every failure the SDK reports is a {@link SwitchboardError} with a stable `code` from one
 * catalog. Codes are API: they never change meaning.
 */

/** A stable error code (see {@link ERROR_CATALOG} for what each means). */
export type ErrorCode =
  | 'SB_INVALID_ARGUMENT'
  | 'SB_INVALID_STATE'
  | 'SB_AUTH_FAILED'
  | 'SB_LOCKED_OUT'
  | 'SB_CONNECTION_FAILED'
  | 'SB_ORIGIN_REFUSED'
  | 'SB_NOT_CONNECTED'
  | 'SB_REGISTRATION_FAILED'
  | 'SB_TARGET_NOT_FOUND'
  | 'SB_TARGET_UNAVAILABLE'
  | 'SB_BUSY'
  | 'SB_DECLINED'
  | 'SB_NO_ANSWER'
  | 'SB_CALL_FAILED'
  | 'SB_MEDIA_DENIED'
  | 'SB_MEDIA_FAILED'
  | 'SB_TRANSFER_FAILED'
  | 'SB_FORBIDDEN'
  | 'SB_NOT_AN_AGENT'
  | 'SB_CALL_LOST'
  | 'SB_DTMF_FAILED'
  | 'SB_AUTOPLAY_BLOCKED'
  | 'SB_DEVICE_NOT_FOUND'
  | 'SB_PROTOCOL_ERROR';

/** What an error code means, and what the user can do about it. */
export interface ErrorInfo {
  /** What happened, in a sentence fit for the user. */
  readonly description: string;
  /** What to do about it. */
  readonly solution: string;
}

/** The error catalog: code → what it means and what to do. */
export const ERROR_CATALOG: Readonly<Record<ErrorCode, ErrorInfo>> = {
  SB_INVALID_ARGUMENT: { description: 'An argument is missing or malformed.', solution: 'Check the value passed.' },
  SB_INVALID_STATE: { description: 'Not possible in the current state.', solution: 'Check the state first.' },
  SB_AUTH_FAILED: { description: 'The gateway rejected the credentials or token.', solution: 'Log in again.' },
  SB_LOCKED_OUT: { description: 'Too many failed logins: locked out for a while.', solution: 'Wait, then retry with the right password.' },
  SB_CONNECTION_FAILED: { description: 'The connection to the gateway failed or was lost.', solution: 'Check the URL and network; the SDK reconnects.' },
  SB_ORIGIN_REFUSED: { description: 'The gateway refused this page\'s origin.', solution: 'Add the origin to auth.allowedOrigins.' },
  SB_NOT_CONNECTED: { description: 'The softphone is not connected and registered.', solution: 'Call connect() first.' },
  SB_REGISTRATION_FAILED: { description: 'The gateway refused the registration.', solution: 'Check that the token belongs to this user.' },
  SB_TARGET_NOT_FOUND: { description: 'No user, extension or number matches the dialled target.', solution: 'Check what was dialled.' },
  SB_TARGET_UNAVAILABLE: { description: 'The target is not reachable now.', solution: 'Try later or call someone else.' },
  SB_BUSY: { description: 'The target is busy.', solution: 'Try again later.' },
  SB_DECLINED: { description: 'The target declined the call.', solution: 'Try later or call someone else.' },
  SB_NO_ANSWER: { description: 'The call was not answered in time.', solution: 'Try again later.' },
  SB_CALL_FAILED: { description: 'The call failed (see the status).', solution: 'Retry; if it persists, report the status code.' },
  SB_MEDIA_DENIED: { description: 'The microphone could not be opened.', solution: 'Allow microphone access and check the headset.' },
  SB_MEDIA_FAILED: { description: 'Audio could not be negotiated or connected.', solution: 'Check the network (UDP must reach the gateway).' },
  SB_TRANSFER_FAILED: { description: 'The transfer failed; the caller is back on this call.', solution: 'Check the target or try another.' },
  SB_FORBIDDEN: { description: 'Your rights do not allow this.', solution: 'See the message; ask an administrator.' },
  SB_NOT_AN_AGENT: { description: 'This user is not an agent.', solution: 'Log in with an agent account.' },
  SB_CALL_LOST: { description: 'The call ended while the connection was lost.', solution: 'Call the customer back if needed.' },
  SB_DTMF_FAILED: { description: 'The call cannot carry digits (no RFC 4733).', solution: 'Nothing was sent.' },
  SB_AUTOPLAY_BLOCKED: { description: 'Sound is blocked until a click.', solution: 'Call phone.audio.unlock() on a click.' },
  SB_DEVICE_NOT_FOUND: { description: 'No such audio device.', solution: 'Pick one from phone.audio.list().' },
  SB_PROTOCOL_ERROR: { description: 'The gateway sent a malformed message.', solution: 'Use matching SDK and gateway versions.' },
};

/** A coded SDK error. */
export class SwitchboardError extends Error {
  /** Always `SwitchboardError`. */
  override name = 'SwitchboardError';
  /** Stable code from {@link ERROR_CATALOG}. */
  readonly code: ErrorCode;
  /** SIP status code, when the failure came from one. */
  readonly status?: number;
  /** What the user can do about it. */
  readonly solution: string;

  constructor(code: ErrorCode, message?: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message ?? ERROR_CATALOG[code].description, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.code = code;
    this.solution = ERROR_CATALOG[code].solution;
    if (opts.status !== undefined) this.status = opts.status;
  }
}

/** Maps a final SIP failure status to the SDK error a user should see. */
export function errorFromStatus(status: number, reason: string): SwitchboardError {
  const code: ErrorCode =
    status === 404 || status === 484 || status === 604 ? 'SB_TARGET_NOT_FOUND'
    : status === 480 ? 'SB_TARGET_UNAVAILABLE'
    : status === 486 || status === 600 ? 'SB_BUSY'
    : status === 603 ? 'SB_DECLINED'
    : status === 408 || status === 487 ? 'SB_NO_ANSWER'
    : status === 401 || status === 407 ? 'SB_AUTH_FAILED'
    // 403 to a call: not allowed to call that (calling rights: premium or international numbers).
    : status === 403 ? 'SB_FORBIDDEN'
    : status === 488 || status === 606 ? 'SB_MEDIA_FAILED'
    : 'SB_CALL_FAILED';
  return new SwitchboardError(code, `${ERROR_CATALOG[code].description} (${status} ${reason})`, { status });
}
