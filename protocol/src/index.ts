/**
 * `@switchboard/protocol` — what the gateway and the SDK say to each other about the contact
 * center, defined once: the agent, queue and call snapshots, and the events the gateway pushes
 * (SIP MESSAGE bodies, `application/x-switchboard-control+json`; docs/protocol.md §5). The
 * gateway builds its messages with these types; the SDK reads them through the parsers below.
 *
 * Parsing follows the robustness rule both ways: a field a reader does not know is ignored (a
 * newer gateway may send more), a field it needs that is missing or of the wrong type rejects
 * the whole message with a {@link ProtocolError} that says which field and why.
 * @packageDocumentation
 */

/** An agent's state (docs/contact-center.md). */
export type AgentStateName = 'offline' | 'available' | 'not-ready' | 'ringing' | 'on-call' | 'wrap-up';

/** Every {@link AgentStateName}. */
export const AGENT_STATES: readonly AgentStateName[] = ['offline', 'available', 'not-ready', 'ringing', 'on-call', 'wrap-up'];

/** An agent's status as the gateway reports it. */
export interface AgentStatus {
  /** The agent's user name. */
  username: string;
  /** The current state. */
  state: AgentStateName;
  /** Not-ready reason code. */
  reason?: string;
  /** When the state began (ms since epoch, gateway clock). */
  since: number;
  /** Skill levels by queue name (higher is preferred by the ACD). */
  skills: Record<string, number>;
  /** Queue calls answered since the gateway started. */
  callsHandled: number;
  /** Average handle time of those calls (talk and wrap-up), ms; 0 before the first. */
  averageHandleMs: number;
  /** The gateway call id of the queue call in progress or in wrap-up. */
  callId?: string;
  /** Increases with every change (events can arrive out of order; older ones are ignored). */
  version: number;
}

/** One queue's live numbers. */
export interface QueueStatistics {
  /** The queue's name. */
  name: string;
  /** Callers waiting now. */
  waiting: number;
  /** How long the longest-waiting caller has waited, ms. */
  longestWaitMs: number;
  /** Callers who entered the queue today. */
  entered: number;
  /** Of those, answered by an agent. */
  answered: number;
  /** Of those, who hung up while waiting. */
  abandoned: number;
  /** Of those, sent to the overflow target. */
  overflowed: number;
  /** Answered within the service-level time. */
  answeredWithinSl: number;
  /** The service-level time, seconds. */
  serviceLevelSeconds: number;
  /** Percent answered within `serviceLevelSeconds` of those answered or abandoned. */
  serviceLevel: number;
  /** Average wait of the answered callers, ms. */
  averageWaitMs: number;
  /** Agents available for this queue now. */
  agentsAvailable: number;
  /** Agents logged in with a skill for this queue. */
  agentsStaffed: number;
}

/** One agent in {@link CenterStatistics}: its status and how long it has been in that state. */
export interface AgentStatistics extends AgentStatus {
  /** Time in the current state, ms. */
  timeInStateMs: number;
}

/** Statistics for every queue and agent. */
export interface CenterStatistics {
  /** When the figures were taken (ms since the epoch, gateway clock). */
  at: number;
  /** Every queue. */
  queues: QueueStatistics[];
  /** Every agent. */
  agents: AgentStatistics[];
}

/** An event the gateway pushes to a desktop. */
export type GatewayEvent =
  /** This agent's status changed. */
  | { type: 'agent'; agent: AgentStatus }
  /** New statistics (after a `subscribe` command). */
  | ({ type: 'stats' } & CenterStatistics)
  /** The gateway is shutting down: calls may go on until `deadline` (ms since the epoch). */
  | { type: 'gateway'; state: 'draining'; deadline: number }
  /** Device mode: a call of this agent whose audio is on their SIP device, as it stands now. */
  | { type: 'device-call'; call: DeviceCallStatus }
  /** Device mode: a control message for the agent's leg of a call (what a browser leg gets as INFO). */
  | { type: 'device-control'; callId: string; message: Record<string, unknown> };

/**
 * Where an agent's call audio goes: `browser` (WebRTC in the desktop, the default) or `device`
 * (the agent's SIP desk phone or headset base; the desktop shows and drives the calls, the
 * gateway executes — docs/devices.md).
 */
export type AudioRoute = 'browser' | 'device';

/** A call whose audio is on the agent's SIP device, as the gateway tells the desktop (device mode). */
export interface DeviceCallStatus {
  /** The gateway's call id (its record id); commands name the call by it. */
  id: string;
  /** The SIP Call-ID of the device's leg, once it has one (names the call in `complete-transfer` and `merge`). */
  sipCallId?: string;
  /** `ringing` (offered to the agent), `dialing` (a click-to-dial call: the target is being called), `connected`, `ended`. */
  state: 'ringing' | 'dialing' | 'connected' | 'ended';
  /** Offered to the agent, or placed by them. */
  direction: 'incoming' | 'outgoing';
  /** The other party. */
  remote: { user: string; displayName?: string };
  /** For a queue call: the queue, the caller's wait (s) when offered, and the caller. */
  queue?: { name: string; waitSeconds: number; caller?: string };
  /** The call's data (as `call.data` in the SDK). */
  data: CallData;
  /** How it ended (state `ended`). */
  end?: { status: number; reason: string };
}

const DEVICE_CALL_STATES: ReadonlyArray<DeviceCallStatus['state']> = ['ringing', 'dialing', 'connected', 'ended'];

/** Reads a {@link DeviceCallStatus}; unknown fields are dropped, bad ones throw {@link ProtocolError}. */
export function parseDeviceCallStatus(x: unknown, where = 'call'): DeviceCallStatus {
  const o = object(x, where);
  const state = str(o, 'state', where);
  if (!(DEVICE_CALL_STATES as readonly string[]).includes(state)) throw new ProtocolError(`${where}.state: unknown state "${state}"`);
  const direction = str(o, 'direction', where);
  if (direction !== 'incoming' && direction !== 'outgoing') throw new ProtocolError(`${where}.direction: must be incoming or outgoing`);
  const remote = object(o.remote, `${where}.remote`);
  const displayName = optStr(remote, 'displayName', `${where}.remote`);
  const sipCallId = optStr(o, 'sipCallId', where);
  let queue: DeviceCallStatus['queue'];
  if (o.queue !== undefined && o.queue !== null) {
    const q = object(o.queue, `${where}.queue`);
    const caller = optStr(q, 'caller', `${where}.queue`);
    queue = { name: str(q, 'name', `${where}.queue`), waitSeconds: num(q, 'waitSeconds', `${where}.queue`), ...(caller !== undefined ? { caller } : {}) };
  }
  let end: DeviceCallStatus['end'];
  if (o.end !== undefined && o.end !== null) {
    const e = object(o.end, `${where}.end`);
    end = { status: num(e, 'status', `${where}.end`), reason: str(e, 'reason', `${where}.end`) };
  }
  return {
    id: str(o, 'id', where),
    ...(sipCallId !== undefined ? { sipCallId } : {}),
    state: state as DeviceCallStatus['state'],
    direction,
    remote: { user: str(remote, 'user', `${where}.remote`), ...(displayName !== undefined ? { displayName } : {}) },
    ...(queue ? { queue } : {}),
    data: parseCallData(o.data, `${where}.data`),
    ...(end ? { end } : {}),
  };
}

/** A message that does not follow the protocol: which field, and why. */
export class ProtocolError extends Error {
  /** Always `ProtocolError`. */
  override name = 'ProtocolError';
}

type Obj = Record<string, unknown>;

function object(x: unknown, where: string): Obj {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new ProtocolError(`${where}: expected an object`);
  return x as Obj;
}
function str(o: Obj, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new ProtocolError(`${where}.${key}: expected a string, got ${typeof v}`);
  return v;
}
function num(o: Obj, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProtocolError(`${where}.${key}: expected a number, got ${typeof v}`);
  return v;
}
function optStr(o: Obj, key: string, where: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(o, key, where);
}
function arr(o: Obj, key: string, where: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new ProtocolError(`${where}.${key}: expected an array`);
  return v;
}

/** Reads an {@link AgentStatus}; unknown fields are dropped, bad ones throw {@link ProtocolError}. */
export function parseAgentStatus(x: unknown, where = 'agent'): AgentStatus {
  const o = object(x, where);
  const state = str(o, 'state', where);
  if (!(AGENT_STATES as readonly string[]).includes(state)) throw new ProtocolError(`${where}.state: unknown state "${state}"`);
  const skillsIn = object(o.skills ?? {}, `${where}.skills`);
  const skills: Record<string, number> = {};
  for (const [k, v] of Object.entries(skillsIn)) if (typeof v === 'number') skills[k] = v;
  const reason = optStr(o, 'reason', where);
  const callId = optStr(o, 'callId', where);
  return {
    username: str(o, 'username', where),
    state: state as AgentStateName,
    ...(reason !== undefined ? { reason } : {}),
    since: num(o, 'since', where),
    skills,
    callsHandled: num(o, 'callsHandled', where),
    averageHandleMs: num(o, 'averageHandleMs', where),
    ...(callId !== undefined ? { callId } : {}),
    version: num(o, 'version', where),
  };
}

const QUEUE_NUMBERS = ['waiting', 'longestWaitMs', 'entered', 'answered', 'abandoned', 'overflowed', 'answeredWithinSl', 'serviceLevelSeconds', 'serviceLevel', 'averageWaitMs', 'agentsAvailable', 'agentsStaffed'] as const;

/** Reads {@link CenterStatistics}; unknown fields are dropped, bad ones throw {@link ProtocolError}. */
export function parseCenterStatistics(x: unknown, where = 'stats'): CenterStatistics {
  const o = object(x, where);
  const queues = arr(o, 'queues', where).map((q, i) => {
    const w = `${where}.queues[${i}]`;
    const qo = object(q, w);
    const out = { name: str(qo, 'name', w) } as QueueStatistics;
    for (const k of QUEUE_NUMBERS) out[k] = num(qo, k, w);
    return out;
  });
  const agents = arr(o, 'agents', where).map((a, i) => ({ ...parseAgentStatus(a, `${where}.agents[${i}]`), timeInStateMs: num(object(a, `${where}.agents[${i}]`), 'timeInStateMs', `${where}.agents[${i}]`) }));
  return { at: num(o, 'at', where), queues, agents };
}

/**
 * Reads a pushed event. Returns undefined for an event type this reader does not know (a newer
 * gateway's: ignore it); throws {@link ProtocolError} for a known type that is malformed.
 */
export function parseGatewayEvent(x: unknown): GatewayEvent | undefined {
  const o = object(x, 'event');
  switch (o.type) {
    case 'agent':
      return { type: 'agent', agent: parseAgentStatus(o.agent) };
    case 'stats':
      return { type: 'stats', ...parseCenterStatistics(o) };
    case 'gateway':
      if (o.state !== 'draining') return undefined;
      return { type: 'gateway', state: 'draining', deadline: num(o, 'deadline', 'event') };
    case 'device-call':
      return { type: 'device-call', call: parseDeviceCallStatus(o.call, 'event.call') };
    case 'device-control':
      return { type: 'device-control', callId: str(o, 'callId', 'event'), message: object(o.message, 'event.message') };
    default:
      if (typeof o.type !== 'string') throw new ProtocolError('event.type: expected a string');
      return undefined;
  }
}

// --- in-dialog control messages (SIP INFO bodies, docs/protocol.md §4) ---

/** One party in a conference roster (the `participants` control message). */
export interface RosterEntry {
  /** The gateway's id of the party in the call. */
  id: string;
  /** User name or number. */
  name: string;
  /** The call's two principal parties, an added participant, or a supervisor. */
  role: 'caller' | 'callee' | 'participant' | 'supervisor';
  /** Talking (`conference`) or a supervisor's mode. */
  mode: 'conference' | 'monitor' | 'whisper' | 'barge';
  /** Muted (by the party, or by the server). */
  muted: boolean;
  /** Muted by the server (a conference moderator). */
  serverMuted: boolean;
  /** On hold. */
  onHold: boolean;
}

/** A control message the gateway sends a browser leg inside its call. */
export type ControlMessage =
  /** The other side put the call on hold, or took it off. */
  | { type: 'hold'; onHold: boolean }
  /** A key the other party pressed (RFC 4733 event or INFO, relayed). */
  | { type: 'dtmf'; digit: string }
  /** The conference roster changed; `self` is this leg's party id. Entries are read leniently by the SDK. */
  | { type: 'participants'; self: string; participants: RosterEntry[] }
  /** A supervisor started, changed or ended (`mode: null`) supervising this agent's call. */
  | { type: 'supervision'; supervisor: string; mode: 'monitor' | 'whisper' | 'barge' | null }
  /** The call's attached data changed (someone attached attributes). */
  | { type: 'data'; data: CallData };

/**
 * Reads an in-dialog control message. Undefined for a type this reader does not know; throws
 * {@link ProtocolError} for a known type that is malformed. Roster entries are passed through
 * as received (the reader keeps the well-formed ones).
 */
export function parseControlMessage(x: unknown): ControlMessage | undefined {
  const o = object(x, 'control');
  switch (o.type) {
    case 'hold':
      if (typeof o.onHold !== 'boolean') throw new ProtocolError('control.onHold: expected a boolean');
      return { type: 'hold', onHold: o.onHold };
    case 'dtmf': {
      const digit = str(o, 'digit', 'control');
      if (!/^[0-9*#A-D]$/.test(digit)) throw new ProtocolError(`control.digit: "${digit}" is not a DTMF digit`);
      return { type: 'dtmf', digit };
    }
    case 'participants':
      return { type: 'participants', self: typeof o.self === 'string' ? o.self : '', participants: arr(o, 'participants', 'control') as RosterEntry[] };
    case 'data':
      return { type: 'data', data: parseCallData(o.data, 'control.data') };
    case 'supervision': {
      const mode = o.mode ?? null;
      if (mode !== null && mode !== 'monitor' && mode !== 'whisper' && mode !== 'barge') throw new ProtocolError(`control.mode: unknown mode "${String(mode)}"`);
      return { type: 'supervision', supervisor: typeof o.supervisor === 'string' ? o.supervisor : '', mode };
    }
    default:
      if (typeof o.type !== 'string') throw new ProtocolError('control.type: expected a string');
      return undefined;
  }
}

// --- call data (attached to a call; docs/protocol.md §6) ---

/**
 * What the contact center knows about a call, for the agent's desktop (a screen pop, a CRM
 * lookup): who called, what they dialled, the queue, and attributes attached to the call — from
 * the carrier's or an IVR's SIP headers (`center.callData.headers`) or by a desktop or CRM
 * (`call.setData`, `POST /api/calls/:id/data`). Kept in the call record.
 */
export interface CallData {
  /** The caller's number or user name. */
  caller: string;
  /** The caller's display name, when the INVITE carried one. */
  callerName?: string;
  /** What the caller dialled: the DID for a call from a trunk, else the extension or number. */
  dialed: string;
  /** The queue the call came through. */
  queue?: string;
  /** The trunk the call came in on. */
  trunk?: string;
  /** How long the caller waited in the queue before this agent's phone rang (ms). */
  waitMs?: number;
  /** Attached attributes: string keys and values. */
  attributes: Record<string, string>;
}

/** Limits on attached attributes (the gateway refuses more; the SDK checks before sending). */
export const CALL_DATA_LIMITS = {
  /** Attributes per call. */
  maxAttributes: 32,
  /** Characters in a key: letters, digits, `_`, `-` and `.`. */
  maxKeyLength: 64,
  /** Characters in a value. */
  maxValueLength: 1024,
} as const;

/** The SIP header the gateway puts call data in, on the INVITE to an agent and the 200 OK to one. */
export const CALL_DATA_HEADER = 'X-Switchboard-Call-Data';

/**
 * Checks attributes a client wants to attach; returns them as a plain object, or throws
 * {@link ProtocolError} that names the bad key. A `null` value removes the attribute.
 */
export function parseAttributes(x: unknown, where = 'attributes'): Record<string, string | null> {
  const o = object(x, where);
  const out: Record<string, string | null> = {};
  const entries = Object.entries(o);
  if (entries.length > CALL_DATA_LIMITS.maxAttributes) throw new ProtocolError(`${where}: at most ${CALL_DATA_LIMITS.maxAttributes} attributes`);
  for (const [k, v] of entries) {
    if (!/^[A-Za-z0-9_.-]+$/.test(k) || k.length > CALL_DATA_LIMITS.maxKeyLength) throw new ProtocolError(`${where}: "${k.slice(0, 80)}" is not a valid key (letters, digits, _ - ., up to ${CALL_DATA_LIMITS.maxKeyLength})`);
    if (v !== null && typeof v !== 'string') throw new ProtocolError(`${where}.${k}: expected a string or null, got ${typeof v}`);
    if (typeof v === 'string' && v.length > CALL_DATA_LIMITS.maxValueLength) throw new ProtocolError(`${where}.${k}: longer than ${CALL_DATA_LIMITS.maxValueLength} characters`);
    out[k] = v;
  }
  return out;
}

/**
 * Applies attribute changes (`null` removes a key) to `base`; returns the new set, or undefined
 * when it would hold more than {@link CALL_DATA_LIMITS}.maxAttributes.
 */
export function mergeAttributes(base: Readonly<Record<string, string>>, changes: Readonly<Record<string, string | null>>): Record<string, string> | undefined {
  const out: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return Object.keys(out).length > CALL_DATA_LIMITS.maxAttributes ? undefined : out;
}

/** Reads {@link CallData}; unknown fields are dropped, bad ones throw {@link ProtocolError}. */
export function parseCallData(x: unknown, where = 'data'): CallData {
  const o = object(x, where);
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(parseAttributes(o.attributes ?? {}, `${where}.attributes`))) if (v !== null) attributes[k] = v;
  const callerName = optStr(o, 'callerName', where);
  const queue = optStr(o, 'queue', where);
  const trunk = optStr(o, 'trunk', where);
  const waitMs = o.waitMs === undefined || o.waitMs === null ? undefined : num(o, 'waitMs', where);
  return {
    caller: str(o, 'caller', where),
    ...(callerName !== undefined ? { callerName } : {}),
    dialed: str(o, 'dialed', where),
    ...(queue !== undefined ? { queue } : {}),
    ...(trunk !== undefined ? { trunk } : {}),
    ...(waitMs !== undefined ? { waitMs } : {}),
    attributes,
  };
}

/** Call data as a SIP header value: JSON, percent-encoded (a header is one line of ASCII). */
export function encodeCallData(data: CallData): string {
  return encodeURIComponent(JSON.stringify(data));
}

/** Reads the {@link CALL_DATA_HEADER} value; throws {@link ProtocolError} when it is not call data. */
export function decodeCallData(header: string): CallData {
  let json: unknown;
  try {
    json = JSON.parse(decodeURIComponent(header));
  } catch {
    throw new ProtocolError(`${CALL_DATA_HEADER}: not percent-encoded JSON`);
  }
  return parseCallData(json);
}

// --- commands (SIP MESSAGE or HTTP bodies the SDK sends; docs/protocol.md §5) ---

/** A contact-center command from a desktop. `agent` lets a supervisor act on another agent. */
export type CenterCommand =
  /** The agent's state, the not-ready reasons, wrap-up codes and queues. */
  | { type: 'hello' }
  /** Change the agent's state (not-ready needs a reason the gateway offers). */
  | { type: 'agent-state'; state: 'available' | 'not-ready' | 'offline'; reason?: string; agent?: string }
  /** Disposition code and notes for the last queue call; ends after-call work unless `done` is false. */
  | { type: 'wrap-up'; code?: string; notes?: string; done?: boolean; agent?: string }
  /** Statistics pushes to this connection. */
  | { type: 'subscribe'; topics: string[] }
  /** No more statistics pushes. */
  | { type: 'unsubscribe' }
  /** Statistics now. */
  | { type: 'stats' }
  /** The calls in progress (supervisors). */
  | { type: 'calls' }
  /** Attach attributes to a call (`null` removes one). */
  | { type: 'call-data'; callId: string; attributes: Record<string, string | null> }
  /** Where this user's call audio goes from now on (device mode: their SIP device). */
  | { type: 'audio-route'; route: AudioRoute }
  /** Device mode, click-to-dial: the gateway calls the user's device (auto-answer), then `target`. */
  | { type: 'device-dial'; target: string }
  /**
   * Device mode: act on a call whose audio is on the user's device — answer (the device picks up),
   * reject, hang up, send DTMF `digits` to the other party, or any in-call `control` request a
   * browser leg sends as INFO (hold, resume, transfer, complete-transfer, mute, add, merge…).
   */
  | { type: 'device-call'; callId: string; action: DeviceCallAction; digits?: string; control?: Record<string, unknown> };

/** What a desktop can do to a call in device mode (see the `device-call` command). */
export type DeviceCallAction = 'answer' | 'reject' | 'hangup' | 'dtmf' | 'control';

const DEVICE_CALL_ACTIONS: readonly DeviceCallAction[] = ['answer', 'reject', 'hangup', 'dtmf', 'control'];

/** Every {@link CenterCommand} type. */
export const COMMAND_TYPES: ReadonlyArray<CenterCommand['type']> = ['hello', 'agent-state', 'wrap-up', 'subscribe', 'unsubscribe', 'stats', 'calls', 'call-data', 'audio-route', 'device-dial', 'device-call'];

/**
 * Reads a command. Unlike events, an unknown type is an error (the gateway answers
 * `UNKNOWN_COMMAND`); a malformed known one throws {@link ProtocolError}; unknown fields are dropped.
 */
export function parseCenterCommand(x: unknown): CenterCommand {
  const o = object(x, 'command');
  const agent = optStr(o, 'agent', 'command');
  const on = agent !== undefined && agent !== '' ? { agent } : {};
  switch (o.type) {
    case 'hello':
    case 'unsubscribe':
    case 'stats':
    case 'calls':
      return { type: o.type };
    case 'agent-state': {
      const state = o.state;
      if (state !== 'available' && state !== 'not-ready' && state !== 'offline') throw new ProtocolError('command.state: must be available, not-ready or offline');
      const reason = optStr(o, 'reason', 'command');
      return { type: 'agent-state', state, ...(reason ? { reason } : {}), ...on };
    }
    case 'wrap-up': {
      const code = optStr(o, 'code', 'command');
      const notes = optStr(o, 'notes', 'command');
      if (o.done !== undefined && typeof o.done !== 'boolean') throw new ProtocolError('command.done: expected a boolean');
      return { type: 'wrap-up', ...(code ? { code } : {}), ...(notes ? { notes } : {}), ...(o.done === false ? { done: false } : {}), ...on };
    }
    case 'subscribe':
      return { type: 'subscribe', topics: (Array.isArray(o.topics) ? o.topics : ['stats']).filter((t): t is string => typeof t === 'string') };
    case 'call-data':
      return { type: 'call-data', callId: str(o, 'callId', 'command'), attributes: parseAttributes(o.attributes, 'command.attributes') };
    case 'audio-route':
      if (o.route !== 'browser' && o.route !== 'device') throw new ProtocolError('command.route: must be browser or device');
      return { type: 'audio-route', route: o.route };
    case 'device-dial': {
      const target = str(o, 'target', 'command').trim();
      if (!/^[A-Za-z0-9.+_*#-]{1,64}$/.test(target)) throw new ProtocolError(`command.target: "${target.slice(0, 64)}" is not a number or user name`);
      return { type: 'device-dial', target };
    }
    case 'device-call': {
      const action = str(o, 'action', 'command');
      if (!(DEVICE_CALL_ACTIONS as readonly string[]).includes(action)) throw new ProtocolError(`command.action: must be one of ${DEVICE_CALL_ACTIONS.join(', ')}`);
      const digits = optStr(o, 'digits', 'command');
      if (action === 'dtmf' && !/^[0-9*#A-Da-d]{1,32}$/.test(digits ?? '')) throw new ProtocolError('command.digits: 1-32 DTMF digits (0-9 * # A-D)');
      const control = action === 'control' ? object(o.control, 'command.control') : undefined;
      if (control && typeof control.type !== 'string') throw new ProtocolError('command.control.type: expected a string');
      return { type: 'device-call', callId: str(o, 'callId', 'command'), action: action as DeviceCallAction, ...(digits ? { digits: digits.toUpperCase() } : {}), ...(control ? { control } : {}) };
    }
    default:
      throw new ProtocolError(typeof o.type === 'string' ? `Unknown command ${JSON.stringify(o.type.slice(0, 40))}` : 'command.type: expected a string');
  }
}

export { estimateMos, mosFromR, rFactor, type QualityInputs } from './emodel.js';
