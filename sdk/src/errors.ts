/**
 * Every failure the SDK reports is a {@link SwitchboardError} with a stable `code` from one
 * catalog. Codes are API: they never change meaning.
 */

/** The error catalog: code → what it means and what to do. */
export const ERROR_CATALOG = {
  SB_INVALID_ARGUMENT: { description: 'An argument is missing or malformed.', solution: 'Check the value passed to the method.' },
  SB_INVALID_STATE: { description: 'The operation is not possible in the current state.', solution: 'Check the state before calling (e.g. answer only a ringing call).' },
  SB_AUTH_FAILED: { description: 'The gateway rejected the credentials or token.', solution: 'Log in again; check user name, password and token expiry.' },
  SB_LOCKED_OUT: { description: 'Too many failed logins: the user (or this address) is locked out for a while.', solution: 'Wait and try again with the right password; ask an administrator if it persists.' },
  SB_CONNECTION_FAILED: { description: 'The connection to the gateway could not be opened or was lost.', solution: 'Check the gateway URL and network; the SDK reconnects when possible.' },
  SB_ORIGIN_REFUSED: { description: 'The gateway refused this page\'s origin (it is not in the gateway\'s auth.allowedOrigins).', solution: 'Add this page\'s origin (scheme, host and port) to auth.allowedOrigins in the gateway configuration.' },
  SB_NOT_CONNECTED: { description: 'The softphone is not connected and registered.', solution: 'Call connect() and wait for the "registered" state.' },
  SB_REGISTRATION_FAILED: { description: 'The gateway refused the registration.', solution: 'Check that the token belongs to this user.' },
  SB_TARGET_NOT_FOUND: { description: 'No user, extension or number matches the dialled target.', solution: 'Check the number or name dialled.' },
  SB_TARGET_UNAVAILABLE: { description: 'The target exists but is not reachable now (not logged in).', solution: 'Try again later or call someone else.' },
  SB_BUSY: { description: 'The target is busy.', solution: 'Try again later.' },
  SB_DECLINED: { description: 'The target declined the call.', solution: 'Try again later or call someone else.' },
  SB_NO_ANSWER: { description: 'The call was not answered in time.', solution: 'Try again later.' },
  SB_CALL_FAILED: { description: 'The call failed for another reason (see the status and message).', solution: 'Retry; if it persists, report the status code.' },
  SB_MEDIA_DENIED: { description: 'The microphone could not be opened (permission denied or no device).', solution: 'Allow microphone access and check the headset.' },
  SB_MEDIA_FAILED: { description: 'Audio could not be negotiated or connected.', solution: 'Check the network (UDP must reach the gateway).' },
  SB_TRANSFER_FAILED: { description: 'The transfer target could not be reached; the caller is back on this call.', solution: 'Check the target, or try another agent or queue.' },
  SB_FORBIDDEN: { description: 'Your rights do not allow this (e.g. changing another agent\'s state, or calling a premium or international number).', solution: 'Ask a supervisor or administrator; the message says what was refused.' },
  SB_NOT_AN_AGENT: { description: 'This user is not an agent, so it has no agent state.', solution: 'Log in with an agent account.' },
  SB_CALL_LOST: { description: 'The call ended while the connection to the gateway was lost (it was not back within the gateway\'s grace period).', solution: 'Check the network; call the customer back if needed.' },
  SB_DTMF_FAILED: { description: 'The digits could not be sent on this call (telephone-event not negotiated).', solution: 'The far end does not accept RFC 4733 digits; nothing was sent.' },
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** A coded SDK error. */
export class SwitchboardError extends Error {
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
