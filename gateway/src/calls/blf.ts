/**
 * Busy lamp field: the INVITE-initiated dialog event package (RFC 4235) for the gateway's users.
 * A phone subscribes (`Event: dialog`) to an agent's or an extension's user name or number and
 * gets `application/dialog-info+xml` documents (always `state="full"`) as that user's calls go
 * trying → early (ringing) → confirmed → terminated; a lamp lights, blinks and goes dark.
 *
 * The state is derived from the calls the B2BUA holds, not from SIP dialogs one by one: a user is
 * in a call as its caller (initiator), as a party that joined it (recipient: answered, a
 * conference participant, a supervisor), or while their devices ring for it (parallel ringing,
 * queue offers, transfers). A dialog that disappears is reported once more as terminated.
 */
import type { EventPackage, Notifier } from '../sip/notifier.js';
import { CallState, type Call } from './call.js';
import type { Router } from './router.js';

/** RFC 4235 §3.7.1 dialog states (the ones a B2BUA's user legs go through). */
export type DialogInfoState = 'trying' | 'early' | 'confirmed' | 'terminated';

/** One dialog of a watched user, as a busy lamp sees it. */
export interface DialogEntry {
  /** Stable per call and user. */
  id: string;
  callId: string;
  direction: 'initiator' | 'recipient';
  state: DialogInfoState;
  /** The other party (a user name or a number). */
  remote: string;
}

/** Who may watch whom: any authenticated user, or only supervisors and admins. */
export type BlfWatchers = 'users' | 'supervisors';

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/** The user's dialogs in `calls`, derived as described above. */
export function dialogsOf(user: string, calls: Iterable<Call>): DialogEntry[] {
  const me = user.toLowerCase();
  const out: DialogEntry[] = [];
  for (const c of calls) {
    if (c.state === CallState.Ended) continue;
    const id = `${c.id}-${me}`;
    const caller = c.caller;
    if (caller.user && caller.party.toLowerCase() === me) {
      const state: DialogInfoState = c.state === CallState.Routing ? 'trying' : c.state === CallState.Ringing ? 'early' : 'confirmed';
      out.push({ id, callId: c.id, direction: 'initiator', state, remote: c.callee.party });
      continue;
    }
    if (c.parties.some((p) => p.user && p.joined && p.party.toLowerCase() === me)) {
      out.push({ id, callId: c.id, direction: 'recipient', state: 'confirmed', remote: caller.party });
    } else if (c.ringingUsers.has(me)) {
      out.push({ id, callId: c.id, direction: 'recipient', state: 'early', remote: caller.party });
    }
  }
  return out;
}

/** The document (RFC 4235 §4): `dialogs` of `entity`, `version` counting per subscription. */
export function dialogInfoXml(entity: string, version: number, dialogs: readonly DialogEntry[]): string {
  const host = /@([^;>]+)/.exec(entity)?.[1] ?? 'localhost';
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="full" entity="${escapeXml(entity)}">`,
  ];
  for (const d of dialogs) {
    const remote = /^[\w.+*#-]+$/.test(d.remote) ? `sip:${d.remote}@${host}` : 'sip:anonymous@anonymous.invalid';
    lines.push(
      `  <dialog id="${escapeXml(d.id)}" call-id="${escapeXml(d.callId)}" direction="${d.direction}">`,
      `    <state>${d.state}</state>`,
      `    <local><identity>${escapeXml(entity)}</identity></local>`,
      `    <remote><identity>${escapeXml(remote)}</identity></remote>`,
      '  </dialog>',
    );
  }
  lines.push('</dialog-info>', '');
  return lines.join('\r\n');
}

/** The dialog event package over the B2BUA's calls. */
export class DialogPackage implements EventPackage {
  readonly event = 'dialog';
  readonly contentType = 'application/dialog-info+xml';
  /** Per watched user: the dialogs last reported, and those gone since (reported once as terminated). */
  private readonly last = new Map<string, { dialogs: DialogEntry[]; gone: DialogEntry[] }>();

  constructor(
    private readonly notifier: Notifier,
    private readonly router: Router,
    private readonly calls: () => Iterable<Call>,
    private readonly opts: { watchers: BlfWatchers; roleOf: (user: string) => string | undefined },
  ) {}

  /** A watchable resource is a user of the gateway, by user name or extension. */
  resolve(user: string, target: string): { resource: string } | { status: number; reason: string } {
    const route = this.router.resolve(target);
    if (route.kind !== 'user') return { status: 404, reason: 'No Such User Or Extension' };
    if (this.opts.watchers === 'supervisors') {
      const role = this.opts.roleOf(user);
      if (role !== 'supervisor' && role !== 'admin' && user.toLowerCase() !== route.username.toLowerCase()) return { status: 403, reason: 'Only Supervisors May Watch Others' };
    }
    return { resource: route.username.toLowerCase() };
  }

  document(resource: string, version: number, entity: string): string {
    const seen = this.last.get(resource);
    const dialogs = seen ? [...seen.dialogs, ...seen.gone.map((d) => ({ ...d, state: 'terminated' as const }))] : dialogsOf(resource, this.calls());
    return dialogInfoXml(entity, version, dialogs);
  }

  /**
   * Something about the calls changed: every watched user whose dialogs differ from the last
   * report gets a NOTIFY. Cheap when nobody watches (the usual case).
   */
  refresh(): void {
    const watched = this.notifier.watched(this.event);
    for (const key of this.last.keys()) if (!watched.includes(key)) this.last.delete(key);
    for (const user of watched) {
      const now = dialogsOf(user, this.calls());
      const before = this.last.get(user);
      const was = before?.dialogs ?? [];
      if (before && now.length === was.length && now.every((d, i) => d.id === was[i]!.id && d.state === was[i]!.state)) continue;
      const gone = was.filter((d) => !now.some((n) => n.id === d.id));
      this.last.set(user, { dialogs: now, gone });
      if (before || gone.length || now.length) this.notifier.changed(this.event, user);
    }
  }
}
