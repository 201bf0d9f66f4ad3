/**
 * Supervision (docs/conference.md): a supervisor joins an agent's live call as a party in
 * monitor (hears everyone, heard by nobody), whisper (only the agent hears the supervisor) or
 * barge (a full conference party) mode, and switches modes mid-call — only the hearing matrix
 * changes, nothing is renegotiated.
 *
 * The supervisor's INVITE says what it wants either way a phone can:
 * - the SDK sends `X-Switchboard-Supervise: monitor|whisper|barge` with the agent (user name,
 *   extension) or the call id as the Request-URI user;
 * - a desk phone dials a feature code and the agent: `*51<agent>` monitor, `*52<agent>` whisper,
 *   `*53<agent>` barge (configurable), and presses 1, 2 or 3 during the session to switch.
 * Only supervisors and admins may (403 otherwise); the customer is never told; the agent's
 * softphone is told when `supervision.notifyAgent` is on.
 */
import type { ControlMessage } from '@switchboard/protocol';
import { log } from '../util/log.js';
import type { Dialog } from '../sip/dialog.js';
import type { IncomingInvite } from '../sip/invite.js';
import type { MediaEngine } from '../media/types.js';
import type { AudioDescription, CodecName } from '../media/sdp.js';
import { CallEndedError, CallOperationError, CallState, type Call, type Leg, type PartyMode } from './call.js';
import type { Conference } from './conference.js';
import type { Router } from './router.js';

const MODES: readonly PartyMode[] = ['monitor', 'whisper', 'barge'];
/** Keys a supervisor presses during the session to switch modes. */
const DIGIT_MODES: Record<string, PartyMode> = { '1': 'monitor', '2': 'whisper', '3': 'barge' };

/** Supervision settings (config `supervision`). */
export interface SupervisionOptions {
  /** Feature-code prefixes a desk phone dials before the agent's name or extension. */
  featureCodes: Record<'monitor' | 'whisper' | 'barge', string>;
  /** Tell the supervised agent's softphone (`supervision` control message); the customer never is. */
  notifyAgent: boolean;
}

/** What supervision needs from the B2BUA. */
export interface SupervisionContext {
  media: MediaEngine;
  router: Router;
  calls(): Iterable<Call>;
  /** The role of a user (`agent`, `supervisor`, `admin`), if it is one. */
  roleOf(user: string): string | undefined;
  watch(call: Call, dialog: Dialog, leg: Leg): void;
  /** Tells a party a control message (see ConferenceContext.tell). */
  tell(call: Call, leg: Leg, message: ControlMessage): void;
  conference: Conference;
  opts: SupervisionOptions;
}

/** A supervision request read from an INVITE. */
export interface SuperviseRequest {
  mode: PartyMode;
  /** The agent (user name or extension) or the call id. */
  target: string;
}

/** Supervisors joining calls. */
export class Supervision {
  constructor(private readonly ctx: SupervisionContext) {}

  /** What supervision the INVITE asks for (header or feature code), if any. */
  request(invite: IncomingInvite): SuperviseRequest | undefined {
    const dialled = invite.request.requestUri.user ?? '';
    const header = invite.request.get('x-switchboard-supervise')?.trim().toLowerCase();
    if (header) return MODES.includes(header as PartyMode) ? { mode: header as PartyMode, target: dialled } : { mode: 'conference', target: dialled };
    for (const mode of MODES) {
      const code = this.ctx.opts.featureCodes[mode as 'monitor'];
      if (code && dialled.length > code.length && dialled.startsWith(code)) return { mode, target: dialled.slice(code.length) };
    }
    return undefined;
  }

  /** The live call of an agent (by user name or extension), or the call with that id. */
  private find(target: string): { call: Call; agent: Leg } | undefined {
    const calls = [...this.ctx.calls()].filter((c) => c.state === CallState.Connected);
    const byId = calls.find((c) => c.id === target);
    if (byId) {
      const agent = byId.parties.find((p) => p.joined && p.user && p.role !== 'supervisor' && p.party.toLowerCase() === (byId.agent ?? '').toLowerCase())
        ?? byId.parties.find((p) => p.joined && p.user && p.role === 'callee')
        ?? byId.parties.find((p) => p.joined && p.user && p.role !== 'supervisor');
      return agent ? { call: byId, agent } : undefined;
    }
    const route = this.ctx.router.resolve(target);
    const name = (route.kind === 'user' ? route.username : target).toLowerCase();
    // The most recent call the agent talks in.
    for (const call of calls.reverse()) {
      const agent = call.parties.find((p) => p.joined && p.role !== 'supervisor' && p.party.toLowerCase() === name);
      if (agent) return { call, agent };
    }
    return undefined;
  }

  /**
   * Answers a supervisor's INVITE into the agent's call: checks the role, finds the call, answers
   * with a new endpoint and adds the supervisor as a party in the asked mode.
   */
  async start(invite: IncomingInvite, req: SuperviseRequest, offer: AudioDescription, codecs: CodecName[]): Promise<void> {
    const who = invite.identity;
    const role = who.startsWith('trunk:') ? undefined : this.ctx.roleOf(who);
    if (role !== 'supervisor' && role !== 'admin') {
      log.info('supervision', `${who} (${role ?? 'no user'}) may not supervise calls`);
      return invite.reject(403, 'Supervisors Only');
    }
    if (req.mode === 'conference') return invite.reject(400, 'X-Switchboard-Supervise Must Be monitor, whisper or barge');
    const found = this.find(req.target);
    if (!found) return invite.reject(404, 'Agent Not On A Call');
    const { call, agent } = found;
    if (agent.party.toLowerCase() === who.toLowerCase()) return invite.reject(403, 'Cannot Supervise Yourself');
    if (call.parties.some((p) => p.role === 'supervisor' && p.party.toLowerCase() === who.toLowerCase())) return invite.reject(486, 'Already Supervising This Call');
    const leg = call.newLeg(who, 'supervisor', req.mode);
    leg.user = true;
    leg.coaches = agent.id;
    try {
      leg.endpointId = await call.createEndpoint(offer.webrtc ? 'webrtc' : 'rtp');
      const answer = await this.ctx.media.answer(leg.endpointId, invite.offer, codecs[0]!);
      if (invite.answered || call.state !== CallState.Connected) {
        await call.closeEndpoint(leg.endpointId);
        if (!invite.answered) invite.reject(481, 'Call Ended');
        return;
      }
      leg.dialog = invite.accept(answer);
      this.ctx.watch(call, leg.dialog, leg);
      call.joined(leg, who, agent.party);
      await call.applyMedia();
    } catch (err) {
      if (leg.endpointId) await call.closeEndpoint(leg.endpointId);
      if (err instanceof CallEndedError) return invite.answered ? undefined : invite.reject(481, 'Call Ended');
      throw err;
    }
    call.note('supervise', `${who} ${req.mode} ${agent.party}`);
    call.log.info('supervision', `${who} ${req.mode}s ${agent.party}`);
    this.tellAgent(call, leg);
    this.ctx.conference.rosterChanged(call);
  }

  /** A supervisor switches mode (SDK `setMode`, or a key on a desk phone). */
  async setMode(call: Call, leg: Leg, mode: string): Promise<void> {
    if (leg.role !== 'supervisor') throw new CallOperationError(403, 'Only A Supervisor Changes Modes');
    if (!MODES.includes(mode as PartyMode)) throw new CallOperationError(400, 'Mode Must Be monitor, whisper or barge');
    if (call.state !== CallState.Connected || !leg.joined) throw new CallOperationError(491, 'Call Not Connected');
    if (leg.mode === mode) return;
    call.setMode(leg, mode as PartyMode);
    await call.applyMedia();
    call.log.info('supervision', `${leg.party} switches to ${mode}`);
    this.tellAgent(call, leg);
    this.ctx.conference.rosterChanged(call);
  }

  /** A key pressed by a supervisor: 1 monitor, 2 whisper, 3 barge; other keys are ignored. */
  digit(call: Call, leg: Leg, digit: string): void {
    const mode = DIGIT_MODES[digit];
    if (!mode) return;
    this.setMode(call, leg, mode).catch((err: Error) => call.log.info('supervision', `${leg.party}: ${digit} ignored (${err.message})`));
  }

  /** A supervisor left: the agent is told when configured. */
  left(call: Call, leg: Leg): void {
    this.tellAgent(call, leg, true);
  }

  private tellAgent(call: Call, sup: Leg, ended = false): void {
    if (!this.ctx.opts.notifyAgent) return;
    const agent = sup.coaches ? call.party(sup.coaches) : undefined;
    if (!agent?.dialog) return;
    this.ctx.tell(call, agent, { type: 'supervision', supervisor: sup.party, mode: ended || sup.mode === 'conference' ? null : sup.mode });
  }
}
