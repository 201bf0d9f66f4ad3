/**
 * The sip.js 0.21.2 implementation of {@link SignalingClient}: SIP over WebSocket (RFC 7118),
 * REGISTER, INVITE with WebRTC media. Nothing from sip.js escapes this file.
 */
import { Invitation, Inviter, Messager, Registerer, RegistererState, SessionState, UserAgent, type Session } from 'sip.js';
import type { SessionDescriptionHandler } from 'sip.js/lib/platform/web/session-description-handler/session-description-handler.js';
import { CALL_DATA_HEADER, decodeCallData, ProtocolError, type CallData, type CenterCommand } from '@switchboard/protocol';
import { Emitter } from '../emitter.js';
import { errorFromStatus, SwitchboardError } from '../errors.js';
import type { QueueInfo, RemoteParty, SessionEnd, SignalingClient, SignalingClientEvents, SignalingConfig, SignalingSession, SignalingSessionEvents } from './types.js';

/** What a session asks getUserMedia for: the app's audio constraints now (device, processing), no video. */
type Media = () => { constraints: { audio: MediaTrackConstraints | boolean; video: false } };

function mediaError(err: unknown): SwitchboardError {
  const name = (err as { name?: string })?.name;
  if (name === 'NotAllowedError' || name === 'NotFoundError' || name === 'NotReadableError' || name === 'OverconstrainedError') {
    return new SwitchboardError('SB_MEDIA_DENIED', undefined, { cause: err });
  }
  return new SwitchboardError('SB_MEDIA_FAILED', `Audio setup failed: ${(err as Error)?.message ?? err}`, { cause: err });
}

/** Content type of gateway control messages (docs/protocol.md). */
const CONTROL_TYPE = 'application/x-switchboard-control+json';

/**
 * Answers a request that may carry a control body (docs/protocol.md): JSON objects of our
 * content type are accepted and handed on; malformed JSON gets 400; other content types get
 * `otherStatus` (200 to accept and ignore, 415 to refuse).
 */
function receiveControl(
  incoming: { request: { getHeader(name: string): string | undefined; body: string }; accept(): Promise<void>; reject(opts: { statusCode: number }): Promise<void> },
  otherStatus: 200 | 415,
  deliver: (body: Record<string, unknown>) => void,
): void {
  const req = incoming.request;
  if (!String(req.getHeader('Content-Type') ?? '').startsWith(CONTROL_TYPE)) {
    (otherStatus === 200 ? incoming.accept() : incoming.reject({ statusCode: otherStatus })).catch(() => undefined);
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(req.body);
  } catch {
    incoming.reject({ statusCode: 400 }).catch(() => undefined);
    return;
  }
  incoming.accept().catch(() => undefined);
  if (body && typeof body === 'object') deliver(body as Record<string, unknown>);
}

/** The key in an INFO `application/dtmf-relay` (`Signal=5`) or `application/dtmf` (`5`) body, if it is one. */
function dtmfRelayDigit(contentType: string | undefined, body: string): string | undefined {
  const ct = String(contentType ?? '').toLowerCase();
  if (!/^application\/(dtmf-relay|dtmf)\b/.test(ct)) return undefined;
  const m = /signal\s*=\s*([0-9*#A-Da-d])/i.exec(body) ?? /^\s*([0-9*#A-Da-d])\s*$/.exec(body);
  return m ? m[1]!.toUpperCase() : undefined;
}

class SipJsSession extends Emitter<SignalingSessionEvents> implements SignalingSession {
  private failure?: SwitchboardError;
  private localEnd = false;
  private wasEstablished = false;
  private answeredElsewhere = false;
  private muted = false;

  constructor(
    private readonly session: Session,
    readonly direction: 'incoming' | 'outgoing',
    private readonly media: Media,
  ) {
    super();
    // Control messages from the gateway (hold state, …) arrive as in-dialog INFO, and so do the
    // far end's keys (application/dtmf-relay, the form every SIP-over-WebSocket client reads).
    session.delegate = {
      // The gateway rings all of a user's devices; the CANCEL to the ones that lost says so
      // (Reason: SIP;cause=200;text="Call completed elsewhere", RFC 3326).
      onCancel: (cancel) => {
        if (/^\s*SIP\s*;(.*;)?\s*cause\s*=\s*200\b/i.test(cancel.request.getHeader('Reason') ?? '')) this.answeredElsewhere = true;
      },
      onInfo: (info) => {
        const digit = dtmfRelayDigit(info.request.getHeader('Content-Type'), info.request.body);
        if (digit) {
          info.accept().catch(() => undefined);
          this.emit('control', { type: 'dtmf', digit });
          return;
        }
        // Other INFO bodies are accepted and ignored.
        receiveControl(info, 200, (msg) => this.emit('control', msg));
      },
    };
    const id = session.remoteIdentity;
    this.remote = { user: id.uri.user ?? '', ...(id.displayName ? { displayName: id.displayName } : {}) };
    if (session instanceof Invitation) {
      const req = session.request;
      this.learnGatewayId(req.getHeader('X-Switchboard-Call-Id'));
      this.learnCallData(req.getHeader(CALL_DATA_HEADER));
      const name = req.getHeader('X-Switchboard-Queue');
      if (name) {
        const wait = Number(req.getHeader('X-Switchboard-Wait'));
        const caller = req.getHeader('X-Switchboard-Caller');
        this.queue = { name, waitSeconds: Number.isFinite(wait) ? wait : 0, ...(caller ? { caller } : {}) };
      }
    }
    session.stateChange.addListener((state) => {
      if (state === SessionState.Established) {
        this.wasEstablished = true;
        this.emit('accepted');
      } else if (state === SessionState.Terminated) {
        // sip.js moves to Terminated before it calls our onReject delegate; wait a microtask so
        // the rejection's status is recorded before we report how the session ended.
        queueMicrotask(() => {
          const end: SessionEnd = this.failure ? { by: 'error', error: this.failure } : { by: this.localEnd ? 'local' : 'remote', ...(this.answeredElsewhere ? { answeredElsewhere: true } : {}) };
          this.emit('ended', end);
        });
      }
    });
  }

  readonly remote: RemoteParty;
  readonly queue?: QueueInfo;
  gatewayCallId: string | undefined;

  /** @internal Records the gateway's call id from a message header (the first one wins). */
  learnGatewayId(value: string | undefined): void {
    if (value && !this.gatewayCallId && /^[\w.:-]{1,64}$/.test(value)) this.gatewayCallId = value;
  }

  callData: CallData | undefined;

  /** @internal Reads the call data header (the first well-formed one wins; a malformed one is logged). */
  learnCallData(value: string | undefined): void {
    if (!value || this.callData) return;
    try {
      this.callData = decodeCallData(value);
    } catch (err) {
      if (err instanceof ProtocolError) console.warn(`[switchboard] call data ignored: ${err.message}`);
      else throw err;
    }
  }

  get callId(): string {
    return (this.session as Inviter | Invitation).request.callId;
  }

  /** @internal The far end is ringing. */
  progress(code: number): void {
    this.emit('progress', code);
  }

  /** @internal Records why the session is about to terminate. */
  fail(err: SwitchboardError): void {
    this.failure ??= err;
  }

  get remoteStream(): MediaStream | undefined {
    return (this.session.sessionDescriptionHandler as SessionDescriptionHandler | undefined)?.remoteMediaStream;
  }

  get localStream(): MediaStream | undefined {
    return (this.session.sessionDescriptionHandler as SessionDescriptionHandler | undefined)?.localMediaStream;
  }

  async getStats(): Promise<RTCStatsReport | undefined> {
    return (this.session.sessionDescriptionHandler as SessionDescriptionHandler | undefined)?.peerConnection?.getStats();
  }

  async accept(): Promise<void> {
    try {
      await (this.session as Invitation).accept({ sessionDescriptionHandlerOptions: this.media() });
    } catch (err) {
      throw mediaError(err);
    }
  }

  async reject(): Promise<void> {
    this.localEnd = true;
    await (this.session as Invitation).reject({ statusCode: 486 });
  }

  async hangup(): Promise<void> {
    this.localEnd = true;
    const s = this.session;
    switch (s.state) {
      case SessionState.Initial:
      case SessionState.Establishing:
        if (s instanceof Inviter) await s.cancel();
        else await (s as Invitation).reject({ statusCode: 486 });
        return;
      case SessionState.Established:
        await s.bye();
        return;
      default:
        return;
    }
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    const sdh = this.session.sessionDescriptionHandler as SessionDescriptionHandler | undefined;
    sdh?.enableSenderTracks(!muted);
  }

  async useAudioInput(): Promise<void> {
    const sdh = this.session.sessionDescriptionHandler as (SessionDescriptionHandler & { getLocalMediaStream(o: unknown): Promise<void> }) | undefined;
    if (!sdh || this.session.state !== SessionState.Established) return;
    // sip.js asks getUserMedia again when the constraints changed and swaps the sender's track
    // (RTCRtpSender.replaceTrack: no renegotiation), stopping the old one.
    try {
      await sdh.getLocalMediaStream(this.media());
    } catch (err) {
      throw mediaError(err);
    }
    sdh.enableSenderTracks(!this.muted);
  }

  control(message: Record<string, unknown>): Promise<void> {
    if (this.session.state !== SessionState.Established) return Promise.reject(new SwitchboardError('SB_INVALID_STATE', 'The call is not established'));
    return new Promise((resolve, reject) => {
      this.session
        .info({
          requestOptions: { body: { contentDisposition: 'render', contentType: CONTROL_TYPE, content: JSON.stringify(message) } },
          requestDelegate: {
            onAccept: () => resolve(),
            onReject: (res) => {
              const m = res.message;
              const code = m.statusCode === 491 ? 'SB_INVALID_STATE' : m.statusCode === 403 ? 'SB_FORBIDDEN' : 'SB_CALL_FAILED';
              reject(new SwitchboardError(code, `The gateway refused: ${m.statusCode} ${m.reasonPhrase}`, { status: m.statusCode ?? 500 }));
            },
          },
        })
        .catch((err: unknown) => reject(new SwitchboardError('SB_CONNECTION_FAILED', 'The request could not be sent', { cause: err })));
    });
  }

  sendDtmf(digits: string, durationMs: number, gapMs: number): boolean {
    const sdh = this.session.sessionDescriptionHandler as SessionDescriptionHandler | undefined;
    // RTCDTMFSender (RFC 4733 telephone-event in the RTP stream, W3C WebRTC §7). insertDTMF
    // replaces what is still queued, so append to the tone buffer: digits play in order.
    const dtmf = sdh?.peerConnection?.getSenders().find((x) => x.track?.kind === 'audio')?.dtmf;
    if (!dtmf || !dtmf.canInsertDTMF) return false;
    dtmf.insertDTMF(dtmf.toneBuffer + digits, durationMs, gapMs);
    return true;
  }

  get established(): boolean {
    return this.wasEstablished;
  }

  async reattach(): Promise<'ok' | 'gone'> {
    if (this.session.state !== SessionState.Established) return 'ok';
    try {
      await this.control({ type: 'ping' });
      return 'ok';
    } catch (err) {
      // 481: the gateway no longer knows the dialog (it ended while we were away, or it restarted).
      return (err as SwitchboardError).status === 481 ? 'gone' : 'ok';
    }
  }

  async abandon(error: SwitchboardError): Promise<void> {
    this.fail(error);
    const s = this.session;
    if (s.state === SessionState.Established) await s.bye().catch(() => undefined);
    else if (s.state !== SessionState.Terminated) await this.hangup().catch(() => undefined);
  }

  get iceConnectionState(): string | undefined {
    return (this.session.sessionDescriptionHandler as SessionDescriptionHandler | undefined)?.peerConnection?.iceConnectionState;
  }

  async restartIce(): Promise<void> {
    if (this.session.state !== SessionState.Established) return;
    await new Promise<void>((resolve, reject) => {
      this.session
        .invite({
          sessionDescriptionHandlerOptions: { ...this.media(), offerOptions: { iceRestart: true } } as never,
          requestDelegate: {
            onAccept: () => resolve(),
            onReject: (res) => reject(new SwitchboardError('SB_MEDIA_FAILED', `ICE restart refused: ${res.message.statusCode} ${res.message.reasonPhrase}`, { status: res.message.statusCode ?? 500 })),
          },
        })
        .catch((err: unknown) => reject(new SwitchboardError('SB_MEDIA_FAILED', 'ICE restart failed', { cause: err })));
    });
  }
}

/** sip.js-backed signaling. */
export class SipJsSignaling extends Emitter<SignalingClientEvents> implements SignalingClient {
  private readonly ua: UserAgent;
  private registerer?: Registerer;
  /** True while we close the connection ourselves (a drop then is not "lost"). */
  private closing = false;

  private readonly media: Media = () => ({ constraints: { audio: this.config.audio?.() ?? true, video: false } });

  constructor(private readonly config: SignalingConfig) {
    super();
    const uri = UserAgent.makeURI(`sip:${config.user}@${config.domain}`);
    if (!uri) throw new SwitchboardError('SB_INVALID_ARGUMENT', `Cannot form a SIP URI for user "${config.user}"`);
    this.ua = new UserAgent({
      uri,
      transportOptions: { server: config.server, connectionTimeout: 5 },
      userAgentString: config.userAgent,
      logBuiltinEnabled: false,
      logLevel: 'error',
      // Reconnection is the Softphone's policy, not sip.js's.
      reconnectionAttempts: 0,
      // Without STUN/TURN servers only host candidates are gathered: no need to wait long. A
      // TURN allocation takes a round trip or two more.
      sessionDescriptionHandlerFactoryOptions: config.iceServers?.length
        ? { iceGatheringTimeout: 2000, peerConnectionConfiguration: { iceServers: config.iceServers } }
        : { iceGatheringTimeout: 500 },
      delegate: {
        onConnect: () => this.emit('connection', 'connected'),
        onDisconnect: (error) => {
          const lost = !this.closing;
          this.emit('connection', 'disconnected', error || lost ? connectionLost(error) : undefined, lost);
          this.emit('registration', 'unregistered');
        },
        onInvite: (invitation) => this.emit('incoming', new SipJsSession(invitation, 'incoming', this.media)),
        // Events pushed by the gateway (agent state, statistics): out-of-dialog MESSAGE.
        onMessage: (message) => receiveControl(message, 415, (body) => this.emit('message', body)),
      },
    });
  }

  async connect(): Promise<void> {
    this.closing = false;
    this.emit('connection', 'connecting');
    try {
      await this.ua.start();
    } catch (err) {
      const e = new SwitchboardError('SB_CONNECTION_FAILED', `Cannot reach the gateway at ${this.config.server.replace(/access_token=[^&]+/, 'access_token=…')}`, { cause: err });
      this.emit('connection', 'disconnected', e);
      throw e;
    }
    await this.register();
  }

  async reconnect(server: string): Promise<void> {
    this.closing = false;
    // The token travels in the WebSocket URL: a fresh one for every attempt (sip.js reads it at connect).
    (this.ua.transport as unknown as { configuration: { server: string } }).configuration.server = server;
    this.emit('connection', 'connecting');
    try {
      await this.ua.reconnect();
    } catch (err) {
      throw new SwitchboardError('SB_CONNECTION_FAILED', 'Reconnecting to the gateway failed', { cause: err });
    }
    await this.register();
  }

  /** Registers (again): resolves once the gateway accepted, rejects with a coded error. */
  private register(): Promise<void> {
    this.emit('registration', 'registering');
    const registerer = (this.registerer ??= new Registerer(this.ua, { expires: 300 }));
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: SwitchboardError) => {
        if (settled) return;
        settled = true;
        listener && registerer.stateChange.removeListener(listener);
        if (err) {
          this.emit('registration', 'unregistered', err);
          reject(err);
        } else {
          this.emit('registration', 'registered');
          resolve();
        }
      };
      const listener = (s: RegistererState) => {
        if (s === RegistererState.Registered) done();
        else if (s === RegistererState.Terminated) done(new SwitchboardError('SB_REGISTRATION_FAILED'));
      };
      registerer.stateChange.addListener(listener);
      registerer
        .register({
          requestDelegate: {
            onAccept: () => done(),
            onReject: (res) => {
              const { statusCode, reasonPhrase } = res.message;
              done(new SwitchboardError(statusCode === 401 || statusCode === 403 ? 'SB_AUTH_FAILED' : 'SB_REGISTRATION_FAILED', `Registration refused: ${statusCode} ${reasonPhrase}`, { status: statusCode }));
            },
          },
        })
        .catch((err: unknown) => done(new SwitchboardError('SB_REGISTRATION_FAILED', String(err), { cause: err })));
    });
  }

  async disconnect(): Promise<void> {
    this.closing = true;
    try {
      if (this.registerer?.state === RegistererState.Registered) await this.registerer.unregister();
    } catch {
      // Closing anyway.
    }
    await this.ua.stop();
  }

  command(message: CenterCommand): Promise<Record<string, unknown>> {
    const target = UserAgent.makeURI(`sip:switchboard@${this.config.domain}`)!;
    return new Promise((resolve, reject) => {
      const parse = (body: string | undefined): Record<string, unknown> => {
        try {
          const v: unknown = JSON.parse(body ?? '');
          return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
        } catch {
          return {};
        }
      };
      new Messager(this.ua, target, JSON.stringify(message), CONTROL_TYPE)
        .message({
          requestDelegate: {
            onAccept: (res) => resolve(parse(res.message.body)),
            onReject: (res) => {
              const status = res.message.statusCode ?? 500;
              const err = (parse(res.message.body).error ?? {}) as { code?: string; message?: string };
              reject(commandError(status, err.code, err.message ?? `${status} ${res.message.reasonPhrase ?? ''}`.trim()));
            },
          },
        })
        .catch((err: unknown) => reject(new SwitchboardError('SB_CONNECTION_FAILED', 'The command could not be sent', { cause: err })));
    });
  }

  async invite(target: string, opts: { headers?: string[] } = {}): Promise<SignalingSession> {
    const uri = UserAgent.makeURI(`sip:${target}@${this.config.domain}`);
    if (!uri) throw new SwitchboardError('SB_INVALID_ARGUMENT', `"${target}" is not a number or user name that can be dialled`);
    // earlyMedia: a 183 with SDP (ringback, a PBX announcement) is played before the answer.
    const inviter = new Inviter(this.ua, uri, { sessionDescriptionHandlerOptions: this.media(), earlyMedia: true, ...(opts.headers ? { extraHeaders: opts.headers } : {}) });
    const session = new SipJsSession(inviter, 'outgoing', this.media);
    inviter
      .invite({
        requestDelegate: {
          onProgress: (res) => {
            session.learnGatewayId(res.message.getHeader('X-Switchboard-Call-Id'));
            session.learnCallData(res.message.getHeader(CALL_DATA_HEADER));
            const code = res.message.statusCode;
            if (code === 180 || code === 183) session.progress(code);
          },
          onAccept: (res) => {
            session.learnGatewayId(res.message.getHeader('X-Switchboard-Call-Id'));
            session.learnCallData(res.message.getHeader(CALL_DATA_HEADER));
          },
          onReject: (res) => session.fail(errorFromStatus(res.message.statusCode ?? 500, res.message.reasonPhrase ?? "Error")),
        },
      })
      .catch((err: unknown) => {
        session.fail(mediaError(err));
        // sip.js leaves the session terminated after a local failure; make sure it ends.
        if (inviter.state !== SessionState.Terminated) inviter.cancel().catch(() => undefined);
      });
    return session;
  }
}

/** The error for a connection that dropped (the WebSocket close code says why, when the gateway gave one). */
function connectionLost(error: Error | undefined): SwitchboardError {
  return new SwitchboardError('SB_CONNECTION_FAILED', `Connection to the gateway lost${error ? `: ${error.message}` : ''}`, error ? { cause: error } : {});
}

/** Maps a refused command to an SDK error; the gateway's own code stays in the message. */
function commandError(status: number, code: string | undefined, message: string): SwitchboardError {
  const sb = code === 'NOT_AN_AGENT' ? 'SB_NOT_AN_AGENT' : status === 400 || status === 413 ? 'SB_INVALID_ARGUMENT' : status === 403 ? 'SB_FORBIDDEN' : status === 409 || status === 404 ? 'SB_INVALID_STATE' : status === 408 || status === 503 ? 'SB_CONNECTION_FAILED' : 'SB_CALL_FAILED';
  return new SwitchboardError(sb, code ? `${message} (${code})` : message, { status });
}

/** The default {@link SignalingFactory}. */
export const sipJsSignaling = (config: SignalingConfig): SignalingClient => new SipJsSignaling(config);
