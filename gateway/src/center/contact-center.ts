/**
 * The contact-center core wired to calls: queue calls from the B2BUA go to the ACD, the ACD's
 * offers ring agents' devices, every call leaves a record, and agents and supervisors talk to
 * it with SIP MESSAGE commands on their authenticated connection (docs/protocol.md §5), getting
 * their state and live statistics pushed back as MESSAGEs.
 */
import { CALL_DATA_LIMITS, COMMAND_TYPES, mergeAttributes, parseCenterCommand, ProtocolError, type CallData, type CenterCommand, type GatewayEvent } from '@switchboard/protocol';
import { epochTime, type Clock, type TimerHandle } from '../util/clock.js';
import { log } from '../util/log.js';
import type { MessageIdentity, MessageReply, SipCore } from '../sip/core.js';
import type { SipRequest } from '../sip/message.js';
import type { Target } from '../sip/transport/types.js';
import type { B2bua, FeatureCodeResult } from '../calls/b2bua.js';
import { CallOperationError, CallState, CONTROL_TYPE, type Call } from '../calls/call.js';
import type { OfferHandle } from '../calls/queueing.js';
import type { CenterConfig, UserConfig } from '../config.js';
import { Acd, type QueueConfig, type QueueStats } from './acd.js';
import { AgentError, AgentRegistry, AgentState, type AgentSnapshot } from './agents.js';
import { involves, RecordStore, type CallRecord } from './store.js';

/** Live statistics: every queue and every agent. */
export interface CenterStats {
  at: number;
  queues: QueueStats[];
  agents: Array<AgentSnapshot & { timeInStateMs: number }>;
}

/** HTTP status for each agent error code. */
const ERROR_STATUS: Record<AgentError['code'], number> = {
  NOT_AN_AGENT: 403, INVALID_TRANSITION: 409, UNKNOWN_REASON: 400, NO_DEVICE: 409, NOT_IN_WRAP_UP: 409,
};

/** Codes of refused device-mode call operations, by status. */
const CALL_ERROR_CODES: Record<number, string> = { 400: 'BAD_REQUEST', 403: 'FORBIDDEN', 404: 'NO_CALL', 409: 'INVALID_STATE', 480: 'UNAVAILABLE', 486: 'BUSY', 491: 'INVALID_STATE' };

/** A refused command: a status and a stable code for the SDK. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The contact-center core. */
export class ContactCenter {
  readonly agents: AgentRegistry;
  readonly acd: Acd;
  readonly store: RecordStore;
  private readonly queued = new Map<string, Call>();
  private readonly offers = new Map<string, OfferHandle>();
  /** Agent (lower case) → gateway id of their last queue call (wrap-up codes go there). */
  private readonly lastCall = new Map<string, string>();
  /** Statistics subscribers: flow → who and where. */
  private readonly subscribers = new Map<string, { user: string; target: Target }>();
  private statsTimer?: TimerHandle;
  private closed = false;
  /** Epoch ms on the injected clock. */
  private readonly now: () => number;

  constructor(
    private readonly clock: Clock,
    private readonly config: { center: CenterConfig; queues: QueueConfig[]; users: UserConfig[]; calls: { reconnectGraceSeconds: number } },
    private readonly b2bua: B2bua,
    private readonly core: SipCore,
  ) {
    this.now = epochTime(clock);
    this.store = new RecordStore(config.center.database);
    const agentUsers = config.users.filter((u) => u.role === 'agent' || u.skills);
    this.agents = new AgentRegistry(clock, { reasons: config.center.notReadyReasons, wrapUpSeconds: config.center.wrapUpSeconds }, agentUsers, (t) => this.store.addAgentTransition(t));
    this.acd = new Acd(clock, this.agents, config.queues, {
      offer: (qc, agent) => this.ring(qc.id, agent),
      cancelOffer: (qc) => {
        this.offers.get(qc.id)?.cancel();
        this.offers.delete(qc.id);
      },
      overflow: (qc, target) => this.overflow(qc.id, target),
      // Not while on another call, and not while its device is gone (a browser reconnecting).
      canTake: (agent) => !this.onAnyCall(agent) && this.hasDevice(agent),
    });
    this.acd.on('offered', (qc, agent) => this.queued.get(qc.id)?.note('offered', agent));
    this.acd.on('noAnswer', (qc, agent, why) => this.queued.get(qc.id)?.note('no-answer', `${agent} (${why})`));
    this.acd.on('overflowed', (qc, target) => this.queued.get(qc.id)?.note('overflowed', `${qc.queue} -> ${'queue' in target ? `queue ${target.queue}` : 'extension' in target ? target.extension : 'rejected'}`));
    this.acd.on('queued', (qc) => {
      const call = this.queued.get(qc.id);
      if (call && call.queue !== qc.queue) {
        call.queue = qc.queue;
        call.note('queued', qc.queue);
      }
    });
    this.acd.on('changed', () => this.scheduleStats());
    this.agents.on('changed', (snap) => {
      this.pushAgent(snap);
      this.scheduleStats();
    });
    b2bua.queueing.delegate = { enqueue: (call, queue) => this.enqueue(call, queue), musicFor: (queue) => this.acd.queue(queue)?.music };
    // A queue added to a conference: the agent the ACD would pick now.
    b2bua.agentFor = (queue) => this.acd.pickFor(queue);
    // Crash-safe records: open at once, current at every state change, final at the end.
    const interrupted = this.store.closeInterrupted();
    if (interrupted) log.warn('center', `${interrupted} calls were live when the gateway last stopped unexpectedly; their records are closed as interrupted`);
    const hours = config.center.restoreStateHours;
    if (hours > 0) this.restorable = this.store.lastAgentStates(this.now() - hours * 3_600_000);
    b2bua.on('callCreated', (call) => {
      this.writeRecord(call, 'in-progress');
      call.on('stateChanged', (s) => {
        if (s !== CallState.Ended) this.writeRecord(call, 'in-progress');
      });
    });
    b2bua.on('callEnded', (call) => this.callEnded(call));
    b2bua.on('transferred', (call, from) => {
      // The agent handed the call on: their part is over, after-call work starts.
      if (call.agent && call.agent.toLowerCase() === from.toLowerCase()) this.acd.ended(call.id, from);
    });
    b2bua.on('partyLeft', (call, party) => {
      // The agent left a conference that goes on (customer and consultee): after-call work starts.
      if (call.agent && call.agent.toLowerCase() === party.toLowerCase()) this.acd.ended(call.id, party);
    });
    b2bua.commands = (req, identity, reply) => this.command(req, identity, reply);
    b2bua.featureCode = (user, dialled) => this.featureCode(user, dialled);
    b2bua.push = (user, event) => this.pushTo(user, event);
    core.registrar.on('unregistered', (b, why) => {
      for (const [key, s] of this.subscribers) if (s.target.flowId && s.target.flowId === b.target.flowId) this.subscribers.delete(key);
      // A browser whose connection dropped may be back in a moment (it reconnects and registers
      // again): its agent keeps its state for the reconnect grace period, like its calls.
      const graceMs = this.config.calls.reconnectGraceSeconds * 1000;
      if (why === 'flow-closed' && b.webrtc && graceMs > 0) {
        const key = b.aor.toLowerCase();
        if (this.logoutTimers.has(key)) return;
        this.logoutTimers.set(key, this.clock.setTimeout(() => {
          this.logoutTimers.delete(key);
          this.logoutIfNoDevice(b.aor);
        }, graceMs));
        return;
      }
      this.logoutIfNoDevice(b.aor);
    });
    core.registrar.on('registered', (b) => {
      this.restoreAgent(b.aor);
      const key = b.aor.toLowerCase();
      const t = this.logoutTimers.get(key);
      if (t) {
        this.clock.clearTimeout(t);
        this.logoutTimers.delete(key);
      }
    });
  }

  /** Agents whose device went away and did not come back, per agent: the pending logout. */
  private readonly logoutTimers = new Map<string, TimerHandle>();

  /** An agent whose last device went away is logged out (unless a call is still up). */
  private logoutIfNoDevice(aor: string): void {
    const a = this.agents.get(aor);
    if (!a || this.hasDevice(a.username)) return;
    if (a.state === AgentState.Available || a.state === AgentState.NotReady || a.state === AgentState.WrapUp || a.state === AgentState.Ringing) {
      this.agents.transition(a.username, AgentState.Offline, { by: 'system' });
    }
  }

  /** Whether the agent has a device calls can reach (a registration or a static contact). */
  hasDevice(agent: string): boolean {
    if (this.core.registrar.lookup(agent).length) return true;
    return !!this.config.users.find((u) => u.username.toLowerCase() === agent.toLowerCase())?.staticContact;
  }

  /**
   * Whether the user is a party of any call in progress (the ACD does not ring them then). The
   * ACD asks once per candidate agent while it walks the line, so the set of busy parties is
   * built once per synchronous pass (O(calls)) and dropped at the next microtask.
   */
  private onAnyCall(user: string): boolean {
    if (!this.busy) {
      const busy = new Set<string>();
      for (const c of this.b2bua.active) {
        if (c.state === CallState.Ended) continue;
        for (const p of c.parties) busy.add(p.party.toLowerCase());
      }
      this.busy = busy;
      queueMicrotask(() => (this.busy = undefined));
    }
    return this.busy.has(user.toLowerCase());
  }

  private busy?: Set<string>;

  private enqueue(call: Call, queue: string): void {
    this.queued.set(call.id, call);
    this.acd.enqueue(call.id, queue, call.caller.party, call.createdAt);
  }

  /** Rings the agent's device for a queued call; the outcome goes back to the ACD. */
  private ring(callId: string, agent: string): void {
    const call = this.queued.get(callId);
    const qc = this.acd.waiting(callId);
    if (!call || !qc) return;
    const waited = Math.round((this.now() - qc.enteredAt) / 1000);
    const headers: Array<[string, string]> = [
      ['x-switchboard-queue', qc.queue],
      ['x-switchboard-wait', String(waited)],
      ['x-switchboard-caller', call.caller.party],
    ];
    const handle = this.b2bua.queueing.offer(call, agent, headers, (o) => {
      if (this.offers.get(callId) !== handle) return;
      this.offers.delete(callId);
      if (o.answered) {
        call.agent = this.agents.get(agent)?.username ?? agent;
        this.queued.delete(callId);
        this.acd.answered(callId);
      } else {
        log.with({ callId }).info('center', `${agent} did not take it (${o.status} ${o.reason})`);
        this.acd.declined(callId);
      }
    });
    this.offers.set(callId, handle);
  }

  private overflow(callId: string, target: { extension: string } | { reject: true }): void {
    const call = this.queued.get(callId);
    if (!call) return;
    this.queued.delete(callId);
    if ('reject' in target) {
      call.hangup({ by: 'gateway', status: 480, reason: 'Queue Overflow' });
      return;
    }
    this.b2bua.queueing.offer(call, target.extension, [['x-switchboard-queue', call.queue ?? '']], (o) => {
      if (!o.answered) call.hangup({ by: 'gateway', status: o.status, reason: `Overflow Target Failed: ${o.reason}` });
    }, 30_000);
  }

  /** Writes the call's record (before its resources are released), then settles agent and queue. */
  private callEnded(call: Call): void {
    const waiting = this.acd.waiting(call.id);
    const overflowed = call.timeline.some((e) => e.event === 'overflowed');
    if (waiting) call.note('abandoned', call.queue);
    const end = call.end ?? { by: 'gateway', status: 0, reason: 'unknown' };
    // Overflowed out of the queues (to an extension, or rejected) unless an agent took it from a
    // queue afterwards (overflow into another queue).
    const outcome = waiting ? 'abandoned' : overflowed && !call.agent ? 'overflowed' : call.answeredAt ? 'answered' : end.status === 487 ? 'cancelled' : end.status === 403 ? 'refused' : 'failed';
    this.writeRecord(call, outcome);
    this.queued.delete(call.id);
    if (waiting) {
      this.acd.abandon(call.id);
    } else if (call.agent) {
      this.lastCall.set(call.agent.toLowerCase(), call.id);
      this.acd.ended(call.id, call.agent);
      // The agent's device went away during the call (tab closed, phone unplugged): logged out,
      // so the ACD does not offer calls to a device that is not there.
      const a = this.agents.get(call.agent);
      // (A browser still inside its reconnect grace period is given the chance to come back.)
      if (a && a.state !== AgentState.Offline && !this.hasDevice(a.username) && !this.logoutTimers.has(a.username.toLowerCase())) this.agents.transition(a.username, AgentState.Offline, { by: 'system' });
    }
  }

  /**
   * Writes the call's record as it stands: `in-progress` while live (opened when the call is
   * created, rewritten at each state change), then final. A database that refuses it (disk full,
   * read-only) does not lose it: the whole record goes to the log.
   */
  private writeRecord(call: Call, outcome: string): void {
    const end = call.end ?? { by: '', status: 0, reason: '' };
    const live = outcome === 'in-progress';
    const endedAt = live ? call.createdAt : (call.endedAt ?? Date.now());
    const queuedAt = call.timeline.find((e) => e.event === 'queued')?.at;
    const record: CallRecord = {
      id: call.id,
      startedAt: call.createdAt,
      endedAt,
      caller: call.caller.party,
      callee: call.callee.party,
      endedBy: end.by,
      endStatus: end.status,
      endReason: end.reason,
      outcome,
      lastState: call.state,
      timeline: call.timeline,
      transfers: call.transfers,
      ...(call.partyLog.length ? { parties: call.partyLog } : {}),
      data: call.data(),
      ...(call.answeredAt ? { answeredAt: call.answeredAt, ...(live ? {} : { talkMs: endedAt - call.answeredAt }) } : {}),
      ...(call.queue ? { queue: call.queue } : {}),
      ...(call.agent ? { agent: call.agent } : {}),
      ...(call.trunk ? { trunk: call.trunk } : {}),
      ...(call.codec ? { codec: call.codec } : {}),
      ...(queuedAt !== undefined && !live ? { waitMs: (call.answeredAt ?? endedAt) - queuedAt } : {}),
    };
    try {
      this.store.addCall(record);
      this.storageError = undefined;
    } catch (err) {
      this.storageError = (err as Error).message;
      if (live) call.log.error('center', `record not updated: ${(err as Error).message}`);
      else log.error('center', `call record not stored: ${JSON.stringify(record)}`, err);
    }
  }

  /** The last failure writing to the database, while it lasts (health reports it). */
  storageError?: string | undefined;

  /**
   * After a restart, an agent gets back the state it had (the last change within
   * `center.restoreStateHours`) when its first device registers: available and not-ready (with
   * a reason still configured) as they were; an agent that was ringing becomes available; one
   * that was on a call or in wrap-up becomes not-ready "after-call-work" (its call is gone), or
   * available when that reason is not configured. Offline stays offline.
   */
  private restoreAgent(aor: string): void {
    const key = aor.toLowerCase();
    const last = this.restorable.get(key);
    if (!last) return;
    this.restorable.delete(key);
    const a = this.agents.get(aor);
    if (!a || a.state !== AgentState.Offline) return;
    const reasons = this.agents.reasons;
    let target: { state: AgentState; reason?: string } | undefined;
    if (last.state === AgentState.Available || last.state === AgentState.Ringing) target = { state: AgentState.Available };
    else if (last.state === AgentState.NotReady && last.reason && reasons.includes(last.reason)) target = { state: AgentState.NotReady, reason: last.reason };
    else if (last.state === AgentState.OnCall || last.state === AgentState.WrapUp) target = reasons.includes('after-call-work') ? { state: AgentState.NotReady, reason: 'after-call-work' } : { state: AgentState.Available };
    if (!target) return;
    log.info('center', `${a.username}: restoring ${target.state}${target.reason ? ` (${target.reason})` : ''} from before the restart (was ${last.state})`);
    this.agents.transition(a.username, target.state, { by: 'system', ...(target.reason ? { reason: target.reason } : {}) });
  }

  /** Agents' last states from before this start, waiting for their devices to register. */
  private restorable = new Map<string, { state: string; reason?: string; at: number }>();

  // --- commands (SIP MESSAGE from the SDK) ---

  private command(req: SipRequest, who: MessageIdentity, reply: MessageReply): void {
    const json = (status: number, body: unknown, reason?: string) => reply(status, reason, { contentType: 'application/json', data: JSON.stringify(body) });
    if (!(req.get('content-type') ?? '').toLowerCase().startsWith(CONTROL_TYPE)) return reply(415, 'Unsupported Media Type');
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(req.body.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      msg = parsed as Record<string, unknown>;
    } catch {
      log.info('center', `command from ${who.user} refused: the body is not a JSON object`);
      return json(400, { error: { code: 'BAD_REQUEST', message: 'The body must be a JSON object' } }, 'Bad Command');
    }
    const failed = (err: unknown) => {
      if (err instanceof CallOperationError) err = new CommandError(err.status, CALL_ERROR_CODES[err.status] ?? 'CALL_FAILED', err.message);
      if (err instanceof CommandError || err instanceof AgentError) {
        // Refused with a reason (a malformed or not-allowed command): answered, and logged.
        const status = err instanceof CommandError ? err.status : ERROR_STATUS[err.code];
        log.info('center', `command ${String(msg.type).slice(0, 40)} from ${who.user} refused: ${status} ${err.code}: ${err.message}`);
        return json(status, { error: { code: err.code, message: err.message } }, err.message.slice(0, 80).replace(/[\r\n]/g, ' '));
      }
      log.error('center', `command ${String(msg.type)} from ${who.user} failed`, err);
      json(500, { error: { code: 'INTERNAL', message: 'Internal error' } });
    };
    try {
      const out = this.run(msg, who);
      // Device-mode commands act on calls and answer when that took effect.
      if (out instanceof Promise) out.then((body) => json(200, body), failed);
      else json(200, out);
    } catch (err) {
      failed(err);
    }
  }

  /**
   * Runs one command for `who`; returns the reply body. Throws CommandError / AgentError.
   * @internal The MESSAGE handler and the HTTP API call it.
   */
  run(msg: Record<string, unknown>, who: { user: string; role?: string; source?: MessageIdentity['source'] }): unknown {
    let cmd: CenterCommand;
    try {
      cmd = parseCenterCommand(msg);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      const known = typeof msg.type === 'string' && (COMMAND_TYPES as readonly string[]).includes(msg.type);
      throw new CommandError(400, known ? 'BAD_REQUEST' : 'UNKNOWN_COMMAND', err.message);
    }
    const supervisor = who.role === 'supervisor' || who.role === 'admin';
    // Supervisors may act on another agent ("force a state").
    const subject = 'agent' in cmd && cmd.agent ? cmd.agent : who.user;
    if (subject.toLowerCase() !== who.user.toLowerCase() && !supervisor) throw new CommandError(403, 'FORBIDDEN', 'Only supervisors may change another agent');
    const by = subject.toLowerCase() === who.user.toLowerCase() ? 'agent' : 'supervisor';
    switch (cmd.type) {
      case 'hello':
        return this.hello(who.user);
      case 'agent-state':
        return { agent: this.agents.request(subject, cmd.state as AgentState, { by, hasDevice: this.hasDevice(subject), ...(cmd.reason ? { reason: cmd.reason } : {}) }) };
      case 'wrap-up':
        return { agent: this.wrapUp(subject, cmd, by) };
      case 'subscribe': {
        if (!who.source) throw new CommandError(400, 'BAD_REQUEST', 'subscribe needs a SIP connection');
        const s = who.source;
        this.subscribers.set(s.flowId || `${s.transport}:${s.address}:${s.port}`, { user: who.user, target: { transport: s.transport, host: s.address, port: s.port, flowId: s.flowId } });
        return this.stats();
      }
      case 'unsubscribe':
        if (who.source) this.subscribers.delete(who.source.flowId || `${who.source.transport}:${who.source.address}:${who.source.port}`);
        return {};
      case 'stats':
        return this.stats();
      case 'calls':
        if (!supervisor) throw new CommandError(403, 'FORBIDDEN', 'Only supervisors may list calls');
        return { calls: this.liveCalls() };
      case 'call-data':
        return { data: this.setCallData(cmd.callId, cmd.attributes, who.user, supervisor) };
      // Device mode (docs/devices.md): always the user's own devices and calls.
      case 'audio-route': {
        const r = this.b2bua.desk.setRoute(who.user, cmd.route);
        log.info('center', `${who.user}: call audio on ${cmd.route === 'device' ? `their device (${r.devices.map((d) => `${d.userAgent || 'unknown'} at ${d.address}, auto-answer ${d.autoAnswer}`).join('; ')})` : 'the browser'}`);
        return r;
      }
      case 'device-dial':
        return this.b2bua.desk.dial(who.user, cmd.target);
      case 'device-call': {
        const desk = this.b2bua.desk;
        switch (cmd.action) {
          case 'answer':
            return desk.answer(who.user, cmd.callId);
          case 'reject':
            desk.reject(who.user, cmd.callId);
            return {};
          case 'hangup':
            desk.hangup(who.user, cmd.callId);
            return {};
          case 'dtmf':
            desk.dtmf(who.user, cmd.callId, cmd.digits ?? '');
            return {};
          case 'control':
            return desk.control(who.user, cmd.callId, cmd.control ?? {}).then(() => ({}));
        }
      }
    }
  }

  /**
   * An agent's feature code from a SIP phone (`center.featureCodes`): available, not ready (the
   * first reason code, or the n-th when n follows the code), log out, after-call work done. The
   * same changes the SDK asks for, so desktops and supervisors see them as usual. Undefined when
   * `dialled` is no feature code.
   */
  private featureCode(user: string, dialled: string): FeatureCodeResult | undefined {
    const codes = this.config.center.featureCodes;
    const reasons = this.config.center.notReadyReasons;
    const done = (a: AgentSnapshot): FeatureCodeResult => ({ ok: true, text: `${a.username} is ${a.state}${a.reason ? ` (${a.reason})` : ''}` });
    try {
      if (dialled === codes.wrapUpDone) return done(this.agents.endWrapUp(user));
      let cmd: Record<string, unknown> | undefined;
      if (dialled === codes.available) cmd = { type: 'agent-state', state: 'available' };
      else if (dialled === codes.logout) cmd = { type: 'agent-state', state: 'offline' };
      else if (dialled.startsWith(codes.notReady) && /^\d{0,2}$/.test(dialled.slice(codes.notReady.length))) {
        const n = Number(dialled.slice(codes.notReady.length) || '1');
        const reason = reasons[n - 1];
        if (!reason) return { ok: false, text: `there is no not-ready reason ${n} (1-${reasons.length}: ${reasons.join(', ')})` };
        cmd = { type: 'agent-state', state: 'not-ready', reason };
      }
      if (!cmd) return undefined;
      return done((this.run(cmd, { user }) as { agent: AgentSnapshot }).agent);
    } catch (err) {
      if (err instanceof CommandError || err instanceof AgentError) return { ok: false, text: err.message };
      throw err;
    }
  }

  /**
   * Attaches attributes to a call: a live one (its desktops are told at once) or a finished one
   * (an agent in wrap-up attaching the CRM case). Parties of the call and supervisors may.
   */
  setCallData(callId: string, attributes: Record<string, string | null>, user: string, supervisor: boolean): CallData {
    const me = user.toLowerCase();
    const live = this.b2bua.call(callId);
    const rec = live ? undefined : this.store.call(callId);
    if (live) {
      const party = live.partyLog.some((p) => p.party.toLowerCase() === me) || live.parties.some((p) => p.party.toLowerCase() === me);
      if (!party && !supervisor) throw new CommandError(403, 'FORBIDDEN', 'Only the call\'s parties and supervisors may attach data to it');
    } else if (!rec || (!involves(rec, user) && !supervisor)) {
      throw new CommandError(404, 'NO_CALL', `No call ${callId.slice(0, 64)} of yours`);
    }
    const merged = mergeAttributes(live ? live.attributes : (rec!.data?.attributes ?? {}), attributes);
    if (!merged) throw new CommandError(413, 'TOO_MANY_ATTRIBUTES', `A call has at most ${CALL_DATA_LIMITS.maxAttributes} attributes`);
    if (live) {
      const data = this.b2bua.attachData(live, merged, Object.keys(attributes));
      this.writeRecord(live, 'in-progress');
      return data;
    }
    const data: CallData = { ...(rec!.data ?? { caller: rec!.caller, dialed: rec!.callee }), attributes: merged };
    this.store.setData(callId, data);
    return data;
  }

  private hello(user: string): unknown {
    return {
      agent: this.agents.get(user) ?? null,
      reasons: this.agents.reasons.filter((r) => r !== 'missed'),
      wrapUpCodes: this.config.center.wrapUpCodes,
      wrapUpSeconds: this.config.center.wrapUpSeconds,
      queues: this.acd.queueConfigs.map((q) => q.name),
    };
  }

  /** Wrap-up: a disposition code and notes for the agent's last queue call; ends after-call work unless `done` is false. */
  private wrapUp(agent: string, msg: { code?: string; notes?: string; done?: boolean }, by: 'agent' | 'supervisor'): AgentSnapshot {
    const a = this.agents.get(agent);
    if (!a) throw new AgentError('NOT_AN_AGENT', `${agent} is not an agent`);
    const code = msg.code || undefined;
    const notes = msg.notes ? msg.notes.slice(0, 2000) : undefined;
    const codes = this.config.center.wrapUpCodes;
    if (code && codes.length && !codes.includes(code)) throw new CommandError(400, 'UNKNOWN_WRAP_UP_CODE', `Unknown wrap-up code "${code}"; use one of: ${codes.join(', ')}`);
    const callId = a.state === AgentState.WrapUp && a.callId ? a.callId : this.lastCall.get(agent.toLowerCase());
    if ((code || notes) && !callId) throw new CommandError(409, 'NO_CALL', 'There is no call to wrap up');
    if ((code || notes) && callId && !this.store.setWrapUp(callId, code, notes, Date.now())) throw new CommandError(404, 'NO_CALL', 'The call record was not found');
    if (msg.done !== false && a.state === AgentState.WrapUp) return this.agents.endWrapUp(agent, by === 'supervisor' ? 'supervisor' : 'agent');
    return this.agents.get(agent)!;
  }

  /**
   * The calls in progress as a supervisor sees them: state, queue, agent, and every party with
   * its role and mode (supervisors included) — what the supervisor panel lists.
   */
  liveCalls(): Array<{ id: string; state: string; startedAt: number; answeredAt?: number; queue?: string; agent?: string; parties: Array<{ id: string; name: string; role: string; mode: string; muted: boolean; onHold: boolean; quality?: { mos: number; jitterMs: number; lossPct: number; at: number } }> }> {
    return this.b2bua.active
      .filter((c) => c.state !== CallState.Ended)
      .map((c) => ({
        id: c.id,
        state: c.state,
        startedAt: c.createdAt,
        ...(c.answeredAt ? { answeredAt: c.answeredAt } : {}),
        ...(c.queue ? { queue: c.queue } : {}),
        ...(c.agent ? { agent: c.agent } : {}),
        parties: c.parties.filter((p) => p.joined).map((p) => ({ id: p.id, name: p.party, role: p.role, mode: p.mode, muted: p.muted || p.serverMuted, onHold: p.holding, ...(p.quality ? { quality: p.quality } : {}) })),
      }));
  }

  /** Live statistics now. */
  stats(): CenterStats {
    return { at: this.now(), queues: this.acd.stats(), agents: this.agentStats() };
  }

  /** Every agent (or the one named) with the time in its current state. */
  agentStats(name?: string): CenterStats['agents'] {
    const now = this.now();
    const list = name === undefined ? this.agents.list() : [this.agents.get(name)].filter((a): a is AgentSnapshot => !!a);
    return list.map((a) => ({ ...a, timeInStateMs: now - a.since }));
  }

  // --- pushes (SIP MESSAGE to the SDK) ---

  /** Tells every browser of the agent its new state (other tabs, supervisor changes, the ACD). */
  private pushAgent(snap: AgentSnapshot): void {
    this.pushTo(snap.username, { type: 'agent', agent: snap });
  }

  /** Tells every browser of `user` an event (MESSAGE to each WebSocket registration). */
  private pushTo(user: string, event: GatewayEvent): void {
    if (this.closed) return;
    const data = JSON.stringify(event);
    for (const b of this.core.registrar.lookup(user)) {
      if (!b.webrtc) continue;
      const uri = b.contact.uri;
      void this.core.sendMessage(b.target, `sip:${uri.user ?? user}@${uri.host}${uri.params.transport ? ';transport=' + uri.params.transport : ''}`, user, { contentType: CONTROL_TYPE, data }).then((status) => {
        if (status >= 300) log.warn('center', `${event.type} push to ${user} at ${b.target.transport} ${b.target.host}:${b.target.port} answered ${status}`);
      });
    }
  }

  /** Tells every connected browser something about the gateway (e.g. that it is draining for shutdown). */
  broadcast(message: GatewayEvent): void {
    for (const aor of this.core.registrar.aors) this.pushTo(aor, message);
  }

  /** Coalesces statistics pushes: at most one every 250 ms. */
  private scheduleStats(): void {
    if (this.statsTimer || !this.subscribers.size || this.closed) return;
    this.statsTimer = this.clock.setTimeout(() => {
      delete this.statsTimer;
      const data = JSON.stringify({ type: 'stats', ...this.stats() } satisfies GatewayEvent);
      for (const [key, s] of this.subscribers) {
        void this.core.sendMessage(s.target, `sip:${s.user}@${this.core.opts.advertisedHost}`, s.user, { contentType: CONTROL_TYPE, data }).then((status) => {
          if (status === 408 || status === 503 || status === 481) this.subscribers.delete(key);
        });
      }
    }, 250);
  }

  /** Stops timers and closes the database (after the calls have ended). */
  close(): void {
    this.closed = true;
    if (this.statsTimer) this.clock.clearTimeout(this.statsTimer);
    for (const t of this.logoutTimers.values()) this.clock.clearTimeout(t);
    this.logoutTimers.clear();
    this.acd.close();
    this.agents.close();
    this.store.close();
  }
}
