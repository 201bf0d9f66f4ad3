/**
 * SDK state machines (Softphone connection/registration, Call) driven through a fake
 * signaling implementation — the same seam that keeps sip.js replaceable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Call, CallState } from './call.js';
import { Emitter } from './emitter.js';
import { errorFromStatus, SwitchboardError } from './errors.js';
import { ConnectionState, RegistrationState, Softphone } from './softphone.js';
import type { SessionEnd, SignalingClient, SignalingClientEvents, SignalingConfig, SignalingSession, SignalingSessionEvents } from './signaling/types.js';

class FakeSession extends Emitter<SignalingSessionEvents> implements SignalingSession {
  remoteStream = undefined;
  calls: string[] = [];
  constructor(readonly direction: 'incoming' | 'outgoing', readonly remote = { user: 'bob' }) {
    super();
  }
  fire<K extends keyof SignalingSessionEvents>(k: K, ...a: SignalingSessionEvents[K]) {
    this.emit(k, ...a);
  }
  async accept() {
    this.calls.push('accept');
    this.fire('accepted');
  }
  async reject() {
    this.calls.push('reject');
    this.fire('ended', { by: 'local' });
  }
  async hangup() {
    this.calls.push('hangup');
    this.fire('ended', { by: 'local' });
  }
  setMuted(m: boolean) {
    this.calls.push(`muted=${m}`);
  }
  controls: Array<Record<string, unknown>> = [];
  controlFails = false;
  async control(m: Record<string, unknown>) {
    this.controls.push(m);
    await new Promise((r) => setTimeout(r, 5));
    if (this.controlFails) throw new SwitchboardError('SB_CALL_FAILED', 'refused');
  }
  readonly callId = `fake-${Math.random()}`;
  gatewayCallId: string | undefined = undefined;
  callData: import('@switchboard/protocol').CallData | undefined = undefined;
  dtmfOk = true;
  sendDtmf(d: string, duration: number, gap: number) {
    this.calls.push(`dtmf=${d}/${duration}/${gap}`);
    return this.dtmfOk;
  }
  /** What the gateway says about this session after a reconnect. */
  reattachAnswer: 'ok' | 'gone' = 'ok';
  async reattach() {
    this.calls.push('reattach');
    return this.reattachAnswer;
  }
  async abandon(error: SwitchboardError) {
    this.calls.push(`abandon=${error.code}`);
    this.fire('ended', { by: 'error', error });
  }
  iceConnectionState: string | undefined = 'connected';
  async restartIce() {
    this.calls.push('restartIce');
  }
}

class FakeSignaling extends Emitter<SignalingClientEvents> implements SignalingClient {
  config?: SignalingConfig;
  failWith?: SwitchboardError;
  sessions: FakeSession[] = [];
  async connect() {
    this.emit('connection', 'connecting');
    if (this.failWith) {
      this.emit('connection', 'disconnected', this.failWith);
      throw this.failWith;
    }
    this.emit('connection', 'connected');
    this.emit('registration', 'registering');
    this.emit('registration', 'registered');
  }
  async disconnect() {
    this.emit('registration', 'unregistered');
    this.emit('connection', 'disconnected');
  }
  /** Reconnect attempts fail this many times, then succeed. */
  reconnectFailures = 0;
  reconnects: string[] = [];
  async reconnect(server: string) {
    this.reconnects.push(server);
    if (this.reconnectFailures-- > 0) throw new SwitchboardError('SB_CONNECTION_FAILED', 'still down');
    this.emit('connection', 'connected');
    this.emit('registration', 'registering');
    this.emit('registration', 'registered');
  }
  /** The transport drops (not asked for). */
  lose() {
    this.emit('connection', 'disconnected', new SwitchboardError('SB_CONNECTION_FAILED', 'lost'), true);
    this.emit('registration', 'unregistered');
  }
  invites: Array<{ target: string; headers?: string[] }> = [];
  async invite(target: string, opts: { headers?: string[] } = {}) {
    this.invites.push({ target, ...opts });
    const s = new FakeSession('outgoing');
    this.sessions.push(s);
    return s;
  }
  commands: Array<Record<string, unknown>> = [];
  agentState: Record<string, unknown> = { username: 'alice', state: 'offline', since: 1, skills: {}, callsHandled: 0, averageHandleMs: 0, version: 1 };
  async command(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.commands.push(m);
    if (m.type === 'call-data') return { data: { caller: 'carol', dialed: '700', queue: 'support', attributes: { customerId: 'C-1', ...(m.attributes as Record<string, string>) }, unknownField: 1 } };
    if (m.type === 'calls') return { calls: [{ id: 'c1', state: 'connected', startedAt: 1, agent: 'bob', parties: [] }] };
    if (m.type === 'hello') return { agent: this.agentState, reasons: ['break', 'lunch'], wrapUpCodes: ['resolved'], queues: ['support'] };
    if (m.type === 'agent-state') {
      if (m.reason === 'nap') throw new SwitchboardError('SB_INVALID_ARGUMENT', 'unknown reason (UNKNOWN_REASON)', { status: 400 });
      this.agentState = { ...this.agentState, state: m.state, since: Number(this.agentState.since) + 1, version: Number(this.agentState.version) + 1, ...(m.reason ? { reason: m.reason } : {}) };
      return { agent: this.agentState };
    }
    return { agent: this.agentState };
  }
  push(body: Record<string, unknown>) {
    this.emit('message', body);
  }
  ring(user = 'carol') {
    const s = new FakeSession('incoming', { user });
    this.sessions.push(s);
    this.emit('incoming', s);
    return s;
  }
}

function token(sub: string, expInSeconds = 3600): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'HS256' })}.${b({ sub, role: 'agent', iat: 0, exp: Math.floor(Date.now() / 1000) + expInSeconds })}.sig`;
}

test('call.data: from the offer; a data control message updates it (dataChanged); setData checks, sends call-data, adopts the reply', async () => {
  const { p, sig } = phone();
  await p.connect();
  let call: import('./call.js').Call | undefined;
  p.on('incoming', (c) => (call = c));
  const s = new FakeSession('incoming', { user: 'carol' });
  s.gatewayCallId = 'g-1';
  s.callData = { caller: 'carol', callerName: 'Carol', dialed: '700', queue: 'support', waitMs: 2000, attributes: { customerId: 'C-1' } };
  sig.sessions.push(s);
  sig.emit('incoming', s);
  assert.deepEqual(call!.data, s.callData);
  call!.data!.attributes.customerId = 'changed by the app';
  assert.equal(call!.data!.attributes.customerId, 'C-1', 'a copy: the app cannot change it by accident');
  const changes: unknown[] = [];
  call!.on('dataChanged', (d) => changes.push(d.attributes));
  s.fire('control', { type: 'data', data: { ...s.callData, attributes: { customerId: 'C-1', tier: 'gold' } } });
  assert.deepEqual(changes, [{ customerId: 'C-1', tier: 'gold' }]);
  // Malformed: not applied (logged).
  s.fire('control', { type: 'data', data: { dialed: 5 } });
  assert.equal(call!.data!.attributes.tier, 'gold');
  // Checked here first: a bad key is refused without a round trip.
  const before = sig.commands.length;
  await assert.rejects(call!.setData({ 'bad key': 'x' }), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT' && /"bad key" is not a valid key/.test(e.message));
  await assert.rejects(call!.setData({ n: 5 as unknown as string }), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  assert.equal(sig.commands.length, before);
  const d = await call!.setData({ ticket: 'T-9', tier: null });
  assert.deepEqual(sig.commands.at(-1), { type: 'call-data', callId: 'g-1', attributes: { ticket: 'T-9', tier: null } });
  assert.deepEqual(d.attributes, { customerId: 'C-1', ticket: 'T-9' }, 'the gateway\'s reply (a null removes)');
  assert.deepEqual(call!.data!.attributes, { customerId: 'C-1', ticket: 'T-9' });
  assert.deepEqual(changes.at(-1), { customerId: 'C-1', ticket: 'T-9' });
});

function phone(sig = new FakeSignaling()) {
  const p = new Softphone({
    url: 'https://gw.example.com:8443/',
    token: token('alice'),
    autoPlayRemoteAudio: false,
    signaling: (c) => {
      sig.config = c;
      return sig;
    },
  });
  const states: string[] = [];
  p.on('connectionStateChanged', (s) => states.push(`conn:${s}`));
  p.on('registrationStateChanged', (s) => states.push(`reg:${s}`));
  return { p, sig, states };
}

test('connect: the token decides the user; states move connecting → connected, registering → registered', async () => {
  const { p, sig, states } = phone();
  await p.connect();
  assert.equal(p.user, 'alice');
  assert.equal(sig.config!.server.startsWith('wss://gw.example.com:8443/sip?access_token='), true);
  assert.equal(sig.config!.domain, 'gw.example.com');
  assert.deepEqual(states, ['conn:connecting', 'conn:connected', 'reg:registering', 'reg:registered']);
  await assert.rejects(p.connect(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
  await p.disconnect();
  assert.equal(p.connectionState, ConnectionState.Disconnected);
  assert.equal(p.registrationState, RegistrationState.Unregistered);
});

test('connect failures are coded; expired and malformed tokens are refused before any network', async () => {
  const sig = new FakeSignaling();
  sig.failWith = new SwitchboardError('SB_CONNECTION_FAILED');
  const { p } = phone(sig);
  await assert.rejects(p.connect(), (e: SwitchboardError) => e.code === 'SB_CONNECTION_FAILED');
  assert.equal(p.connectionState, ConnectionState.Disconnected);
  const expired = new Softphone({ url: 'http://x', token: token('a', -5), signaling: () => new FakeSignaling() });
  await assert.rejects(expired.connect(), (e: SwitchboardError) => e.code === 'SB_AUTH_FAILED' && /expired/.test(e.message));
  const junk = new Softphone({ url: 'http://x', token: 'not-a-jwt', signaling: () => new FakeSignaling() });
  await assert.rejects(junk.connect(), (e: SwitchboardError) => e.code === 'SB_AUTH_FAILED');
  assert.throws(() => new Softphone({ url: '', token: 't' }), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
});

test('dial validates the target and needs a registration', async () => {
  const { p } = phone();
  await assert.rejects(p.dial('1002'), (e: SwitchboardError) => e.code === 'SB_NOT_CONNECTED');
  await p.connect();
  await assert.rejects(p.dial(''), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  await assert.rejects(p.dial('bob@evil;x=1'), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
});

test('outgoing call: dialing → alerting → connected → ended (remote)', async () => {
  const { p, sig } = phone();
  await p.connect();
  const call = await p.dial('1002');
  const seen: string[] = [];
  call.on('stateChanged', (s, prev) => seen.push(`${prev}->${s}`));
  let ended: SessionEnd | undefined;
  call.on('ended', (i) => (ended = i));
  assert.equal(call.state, CallState.Dialing);
  assert.deepEqual(p.calls, [call]);
  const s = sig.sessions[0]!;
  s.fire('progress', 180);
  s.fire('accepted');
  assert.ok(call.connectedAt);
  s.fire('ended', { by: 'remote' });
  assert.deepEqual(seen, ['dialing->alerting', 'alerting->connected', 'connected->ended']);
  assert.deepEqual(ended, { by: 'remote' });
  assert.deepEqual(p.calls, []);
  await call.hangup(); // idempotent once ended
  assert.deepEqual(s.calls, []);
});

test('a rejected call ends with the coded error a user can read', async () => {
  const { p, sig } = phone();
  await p.connect();
  const call = await p.dial('9999');
  sig.sessions[0]!.fire('ended', { by: 'error', error: errorFromStatus(404, 'Not Found') });
  assert.equal(call.state, CallState.Ended);
  assert.equal(call.endInfo?.error?.code, 'SB_TARGET_NOT_FOUND');
  assert.equal(call.endInfo?.error?.status, 404);
  for (const [status, code] of [[480, 'SB_TARGET_UNAVAILABLE'], [486, 'SB_BUSY'], [603, 'SB_DECLINED'], [408, 'SB_NO_ANSWER'], [488, 'SB_MEDIA_FAILED'], [500, 'SB_CALL_FAILED']] as const) {
    assert.equal(errorFromStatus(status, 'x').code, code);
  }
});

test('incoming call: ringing → answer → connected; mute/unmute; hang up', async () => {
  const { p, sig } = phone();
  await p.connect();
  let incoming: Call | undefined;
  p.on('incoming', (c) => (incoming = c));
  const s = sig.ring('carol');
  assert.equal(incoming?.state, CallState.Ringing);
  assert.equal(incoming.remoteUser, 'carol');
  await incoming.answer();
  assert.equal(incoming.state, CallState.Connected);
  await assert.rejects(incoming.answer(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
  const mutes: boolean[] = [];
  incoming.on('muteChanged', (m) => mutes.push(m));
  incoming.mute();
  incoming.mute();
  incoming.unmute();
  assert.deepEqual(mutes, [true, false]);
  await incoming.hangup();
  assert.equal(incoming.state, CallState.Ended);
  assert.deepEqual(s.calls, ['accept', 'muted=true', 'muted=false', 'hangup']);
  assert.throws(() => incoming!.mute(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
});

test('reject only while ringing; a throwing listener does not break the state machine', async () => {
  const { p, sig } = phone();
  await p.connect();
  let incoming: Call | undefined;
  p.on('incoming', (c) => (incoming = c));
  sig.ring();
  const origError = console.error;
  console.error = () => undefined;
  incoming!.on('stateChanged', () => {
    throw new Error('listener bug');
  });
  await incoming!.reject();
  console.error = origError;
  assert.equal(incoming!.state, CallState.Ended);
  assert.deepEqual(incoming!.endInfo, { by: 'local' });
  await assert.rejects(incoming!.reject(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
});

test('sendDigits: validated, clamped, only when connected, coded failure when not negotiated', async () => {
  const { p, sig } = phone();
  await p.connect();
  let incoming: Call | undefined;
  p.on('incoming', (c) => (incoming = c));
  const s = sig.ring('carol');
  assert.throws(() => incoming!.sendDigits('1'), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
  await incoming!.answer();
  incoming!.sendDigits('12#*a', { durationMs: 10, gapMs: 5 });
  incoming!.sendDigits('9');
  assert.throws(() => incoming!.sendDigits('12x'), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  s.dtmfOk = false;
  assert.throws(() => incoming!.sendDigits('5'), (e: SwitchboardError) => e.code === 'SB_DTMF_FAILED');
  assert.deepEqual(s.calls.filter((c) => c.startsWith('dtmf')), ['dtmf=12#*A/40/30', 'dtmf=9/100/70', 'dtmf=5/100/70']);
});

test('hold/resume: one at a time, local and remote hold reported as events, refusals leave the state alone', async () => {
  const { p, sig } = phone();
  await p.connect();
  let call: Call | undefined;
  p.on('incoming', (c) => (call = c));
  const s = sig.ring('carol');
  await assert.rejects(call!.hold(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
  await call!.answer();
  const seen: string[] = [];
  call!.on('holdChanged', (h) => seen.push(h.onHold ? `held-by-${h.by}` : 'resumed'));
  const first = call!.hold();
  await assert.rejects(call!.hold(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE', 'a second request while one is pending');
  await first;
  assert.deepEqual(call!.holdState, { onHold: true, by: 'local' });
  await assert.rejects(call!.hold(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
  await call!.resume();
  s.controlFails = true;
  await assert.rejects(call!.hold(), (e: SwitchboardError) => e.code === 'SB_CALL_FAILED');
  assert.deepEqual(call!.holdState, { onHold: false }, 'a refused hold changes nothing');
  s.fire('control', { type: 'hold', onHold: true });
  await assert.rejects(call!.resume(), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE', 'cannot resume a hold the other side made');
  s.fire('control', { type: 'hold', onHold: false });
  assert.deepEqual(seen, ['held-by-local', 'resumed', 'held-by-remote', 'resumed']);
  assert.deepEqual(s.controls, [{ type: 'hold' }, { type: 'resume' }, { type: 'hold' }]);
});

test('agent: state and codes arrive on connect; setState validates, adopts the reply; pushed changes become events', async () => {
  const { p, sig } = phone();
  const seen: string[] = [];
  p.agent.on('stateChanged', (s) => seen.push(`${s.state}${s.reason ? `:${s.reason}` : ''}`));
  await p.connect();
  assert.equal(p.agent.state, 'offline');
  assert.deepEqual(p.agent.reasons, ['break', 'lunch']);
  assert.deepEqual(p.agent.wrapUpCodes, ['resolved']);
  assert.deepEqual(p.agent.queues, ['support']);
  await p.agent.setState('available');
  assert.equal(p.agent.state, 'available');
  await assert.rejects(p.agent.setState('not-ready'), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  await assert.rejects(p.agent.setState('on-call' as 'available'), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  await assert.rejects(p.agent.setState('not-ready', 'nap'), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  assert.equal(p.agent.state, 'available', 'a refused change changes nothing');
  // Another tab, a supervisor or the ACD changed it: the gateway pushes, the SDK emits.
  sig.push({ type: 'agent', agent: { ...sig.agentState, state: 'not-ready', reason: 'lunch', since: 99, version: 5 } });
  assert.equal(p.agent.state, 'not-ready');
  // A push that overtook a newer one on the way is ignored.
  sig.push({ type: 'agent', agent: { ...sig.agentState, state: 'available', since: 98, version: 4 } });
  assert.equal(p.agent.state, 'not-ready');
  assert.equal(p.agent.status!.reason, 'lunch');
  assert.deepEqual(seen, ['offline', 'available', 'not-ready:lunch']);
  // Statistics pushes.
  const stats: unknown[] = [];
  p.agent.on('stats', (s) => stats.push(s));
  const queue = { name: 'support', waiting: 2, longestWaitMs: 10, entered: 3, answered: 1, abandoned: 0, overflowed: 0, answeredWithinSl: 1, serviceLevelSeconds: 20, serviceLevel: 100, averageWaitMs: 5, agentsAvailable: 1, agentsStaffed: 2 };
  sig.push({ type: 'stats', at: 1, queues: [{ ...queue, colour: 'blue' }], agents: [], newField: true });
  assert.equal(stats.length, 1, 'fields the SDK does not know are ignored');
  // A malformed push is not applied; it is reported, with the field, as an error event.
  const errors: SwitchboardError[] = [];
  p.on('error', (e) => errors.push(e));
  sig.push({ type: 'stats', at: 2, queues: [{ ...queue, waiting: 'many' }], agents: [] });
  sig.push({ type: 'agent', agent: { ...sig.agentState, state: 'dancing', version: 9 } });
  assert.equal(stats.length, 1);
  assert.equal(p.agent.state, 'not-ready');
  assert.deepEqual(errors.map((e) => e.code), ['SB_PROTOCOL_ERROR', 'SB_PROTOCOL_ERROR']);
  assert.match(errors[0]!.message, /queues\[0\]\.waiting: expected a number/);
  assert.match(errors[1]!.message, /agent\.state: unknown state "dancing"/);
  // An event type from a newer gateway is ignored without complaint.
  sig.push({ type: 'weather', sunny: true });
  assert.equal(errors.length, 2);
  await p.disconnect();
  await assert.rejects(p.agent.setState('available'), (e: SwitchboardError) => e.code === 'SB_NOT_CONNECTED');
});

test('call.wrapUp: only after the call ended; sent as a wrap-up command', async () => {
  const { p, sig } = phone();
  await p.connect();
  let call: import('./call.js').Call | undefined;
  p.on('incoming', (c) => (call = c));
  const s = sig.ring('customer');
  await assert.rejects(call!.wrapUp({ code: 'resolved' }), (e: SwitchboardError) => e.code === 'SB_INVALID_STATE');
  s.fire('ended', { by: 'remote' });
  await call!.wrapUp({ code: 'resolved', notes: 'ok' });
  assert.deepEqual(sig.commands.at(-1), { type: 'wrap-up', code: 'resolved', notes: 'ok' });
});

test('ExponentialBackoff: doubling, capped, jittered, gives up by time or attempts', async () => {
  const { ExponentialBackoff } = await import('./reconnect.js');
  const max = new ExponentialBackoff({ initialDelayMs: 500, maxDelayMs: 4000, jitter: 0.5 }, () => 0);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => max.nextDelayMs({ attempt, elapsedMs: 0 })), [500, 1000, 2000, 4000, 4000, 4000]);
  const min = new ExponentialBackoff({ initialDelayMs: 500, maxDelayMs: 4000, jitter: 0.5 }, () => 1);
  assert.deepEqual([1, 2, 3].map((attempt) => min.nextDelayMs({ attempt, elapsedMs: 0 })), [250, 500, 1000], 'jitter takes up to half off');
  assert.equal(new ExponentialBackoff({ maxElapsedMs: 10_000 }).nextDelayMs({ attempt: 2, elapsedMs: 10_000 }), undefined);
  assert.equal(new ExponentialBackoff({ maxAttempts: 3 }).nextDelayMs({ attempt: 4, elapsedMs: 0 }), undefined);
});

function reconnectingPhone(sig = new FakeSignaling(), reconnect: import('./reconnect.js').BackoffOptions | false = { initialDelayMs: 5, maxDelayMs: 10, jitter: 0 }) {
  let issued = 0;
  const p = new Softphone({
    url: 'https://gw.example.com/',
    token: async () => token(`alice`, 3600 + issued++),
    autoPlayRemoteAudio: false,
    reconnect,
    signaling: () => sig,
  });
  const events: string[] = [];
  p.on('connectionStateChanged', (s) => events.push(`conn:${s}`));
  p.on('reconnecting', (i) => events.push(`reconnecting:${i.attempt}`));
  p.on('reconnected', () => events.push('reconnected'));
  p.on('disconnected', (e) => events.push(`disconnected:${e?.code ?? ''}`));
  return { p, sig, events, tokensIssued: () => issued };
}

const until = async (what: string, fn: () => boolean) => {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(fn(), what);
};

test('a dropped connection: reconnecting (fresh token each attempt) → reconnected; calls re-attached, a call the gateway lost ends with SB_CALL_LOST', async () => {
  const { p, sig, events, tokensIssued } = reconnectingPhone();
  await p.connect();
  const kept = await p.dial('1002');
  sig.sessions[0]!.fire('accepted');
  const lost = await p.dial('1003');
  sig.sessions[1]!.fire('accepted');
  sig.sessions[1]!.reattachAnswer = 'gone';
  sig.sessions[0]!.iceConnectionState = 'failed';
  const callEvents: string[] = [];
  kept.on('reconnecting', () => callEvents.push('reconnecting'));
  kept.on('reconnected', () => callEvents.push('reconnected'));
  const lostEnd = new Promise<SwitchboardError | undefined>((r) => lost.on('ended', (i) => r(i.error)));
  sig.reconnectFailures = 2;
  events.length = 0;
  sig.lose();
  await until('reconnected', () => events.includes('reconnected'));
  assert.deepEqual(events, ['conn:reconnecting', 'reconnecting:1', 'reconnecting:2', 'reconnecting:3', 'conn:connected', 'reconnected']);
  assert.equal(sig.reconnects.length, 3);
  assert.equal(new Set(sig.reconnects).size, 3, 'a fresh token for every attempt');
  assert.ok(tokensIssued() >= 4);
  assert.equal(kept.state, CallState.Connected);
  assert.deepEqual(callEvents, ['reconnecting', 'reconnected']);
  assert.ok(sig.sessions[0]!.calls.includes('reattach') && sig.sessions[0]!.calls.includes('restartIce'), 'ICE restarted on a broken path');
  assert.equal((await lostEnd)?.code, 'SB_CALL_LOST');
  assert.equal(p.connectionState, ConnectionState.Connected);
});

test('reconnecting gives up by the policy: disconnected with the last error, calls end with SB_CALL_LOST', async () => {
  const { p, sig, events } = reconnectingPhone(new FakeSignaling(), { initialDelayMs: 5, maxDelayMs: 5, jitter: 0, maxAttempts: 2 });
  await p.connect();
  const call = await p.dial('1002');
  sig.sessions[0]!.fire('accepted');
  const ended = new Promise<SwitchboardError | undefined>((r) => call.on('ended', (i) => r(i.error)));
  sig.reconnectFailures = 99;
  events.length = 0;
  sig.lose();
  await until('gave up', () => events.some((e) => e.startsWith('disconnected')));
  assert.deepEqual(events, ['conn:reconnecting', 'reconnecting:1', 'reconnecting:2', 'conn:disconnected', 'disconnected:SB_CONNECTION_FAILED']);
  assert.equal((await ended)?.code, 'SB_CALL_LOST');
  assert.equal(p.connectionState, ConnectionState.Disconnected);
});

test('reconnect: false stays disconnected; the gateway draining is an event', async () => {
  const { p, sig, events } = reconnectingPhone(new FakeSignaling(), false);
  await p.connect();
  const drains: number[] = [];
  p.on('draining', (i) => drains.push(i.deadline));
  sig.push({ type: 'gateway', state: 'draining', deadline: 1234 });
  assert.deepEqual(drains, [1234]);
  sig.lose();
  await until('disconnected', () => p.connectionState === ConnectionState.Disconnected);
  assert.ok(events.includes('disconnected:SB_CONNECTION_FAILED'));
  assert.equal(sig.reconnects.length, 0);
});

test('conference roster: the gateway\'s participants become call.participants with joined/updated/left events', async () => {
  const { p, sig } = phone();
  await p.connect();
  const call = await p.dial('bob');
  const s = sig.sessions.at(-1)!;
  s.fire('accepted');
  assert.deepEqual(call.participants, [], 'a two-party call has no roster');
  const events: string[] = [];
  call.on('participantJoined', (x) => events.push(`+${x.name}`));
  call.on('participantUpdated', (x) => events.push(`~${x.name}:${x.serverMuted ? 'muted' : 'unmuted'}`));
  call.on('participantLeft', (x) => events.push(`-${x.name}`));
  const party = (id: string, name: string, extra = {}) => ({ id, name, role: 'participant', mode: 'conference', muted: false, serverMuted: false, onHold: false, ...extra });
  s.fire('control', { type: 'participants', self: 'p1', participants: [party('p1', 'alice', { role: 'caller' }), party('p2', 'bob', { role: 'callee' }), party('p3', 'dave')] });
  assert.deepEqual(call.participants.map((x) => [x.name, x.self]), [['alice', true], ['bob', false], ['dave', false]]);
  s.fire('control', { type: 'participants', self: 'p1', participants: [party('p1', 'alice', { role: 'caller' }), party('p3', 'dave', { serverMuted: true, muted: true })] });
  assert.deepEqual(events, ['+alice', '+bob', '+dave', '~dave:muted', '-bob']);
  // Garbage in a roster is skipped, not trusted.
  s.fire('control', { type: 'participants', self: 'p1', participants: [null, { id: 7 }, party('p1', 'alice', { role: 'hacker', mode: 'god' })] });
  assert.deepEqual(call.participants.map((x) => [x.name, x.role, x.mode]), [['alice', 'participant', 'conference']]);
  await p.disconnect();
});

test('conference requests: add / merge / remove / mute go out as control messages; a refused add is coded by its status', async () => {
  const { p, sig } = phone();
  await p.connect();
  const call = await p.dial('bob');
  sig.sessions.at(-1)!.fire('accepted');
  const consult = await p.dial('carol');
  sig.sessions.at(-1)!.fire('accepted');
  await call.addParticipant(' dave ');
  await call.merge(consult);
  await call.removeParticipant('p3');
  await call.muteParticipant('p4');
  assert.deepEqual(sig.sessions[0]!.controls, [
    { type: 'add', target: 'dave' },
    { type: 'merge', with: sig.sessions[1]!.callId },
    { type: 'remove', party: 'p3' },
    { type: 'mute-party', party: 'p4', muted: true },
  ]);
  await assert.rejects(call.addParticipant(''), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  sig.sessions[0]!.control = async () => {
    throw new SwitchboardError('SB_CALL_FAILED', 'The gateway refused: 486 Add Failed: 486 Busy Here', { status: 486 });
  };
  await assert.rejects(call.addParticipant('erin'), (e: SwitchboardError) => e.code === 'SB_BUSY' && e.status === 486);
  await p.disconnect();
});

test('supervisor: calls() lists live calls; monitor() invites with X-Switchboard-Supervise and resolves when connected; setMode is a control message', async () => {
  const { p, sig } = phone();
  await p.connect();
  assert.equal((await p.supervisor.calls())[0]!.agent, 'bob');
  const pending = p.supervisor.monitor('bob');
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(sig.invites.at(-1), { target: 'bob', headers: ['X-Switchboard-Supervise: monitor'] });
  sig.sessions.at(-1)!.fire('accepted');
  const sup = await pending;
  assert.equal(sup.mode, 'monitor');
  const modes: string[] = [];
  sup.on('modeChanged', (m) => modes.push(m));
  await sup.setMode('whisper');
  await sup.setMode('whisper');
  assert.deepEqual(sig.sessions.at(-1)!.controls, [{ type: 'supervise-mode', mode: 'whisper' }]);
  assert.deepEqual(modes, ['whisper']);
  await assert.rejects(sup.setMode('shout' as never), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  await assert.rejects(p.supervisor.monitor('bad target!'), (e: SwitchboardError) => e.code === 'SB_INVALID_ARGUMENT');
  // Refused by the gateway (not a supervisor): the INVITE fails with 403 → SB_FORBIDDEN.
  const refused = p.supervisor.barge('bob');
  await new Promise((r) => setTimeout(r, 0));
  sig.sessions.at(-1)!.fire('ended', { by: 'error', error: errorFromStatus(403, 'Supervisors Only') });
  await assert.rejects(refused, (e: SwitchboardError) => e.code === 'SB_FORBIDDEN');
  let ended = false;
  sup.on('ended', () => (ended = true));
  await sup.end();
  assert.equal(ended, true);
  await p.disconnect();
});

test('an agent state that cannot be loaded is an error event, not a swallowed failure; the phone still connects', async () => {
  class NoCenter extends FakeSignaling {
    override async command(m: Record<string, unknown>): Promise<Record<string, unknown>> {
      if (m.type === 'hello') throw new SwitchboardError('SB_CALL_FAILED', 'contact center unavailable (503)', { status: 503 });
      return super.command(m);
    }
  }
  const { p } = phone(new NoCenter());
  const errors: SwitchboardError[] = [];
  p.on('error', (e) => errors.push(e));
  await p.connect();
  assert.equal(p.connectionState, 'connected');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'SB_CALL_FAILED');
  assert.match(errors[0]!.message, /contact center unavailable/);
});
