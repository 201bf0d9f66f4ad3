/**
 * Registrar (RFC 3261 §10.3): bindings from an address-of-record (a user name here) to contacts,
 * with expiry, `*` unregistration, Min-Expires (423) and flow reuse: a binding remembers the
 * connection or source address the REGISTER came from and requests are sent back along it
 * (RFC 5626's idea, and RFC 7118 §5 for WebSocket clients whose Contact host is `.invalid`).
 *
 * Authentication happens before {@link Registrar.register} is called; this class only keeps
 * bindings.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import { formatNameAddr, type NameAddr } from './uri.js';
import type { SipRequest } from './message.js';
import type { Source, Target } from './transport/types.js';

/** One registered contact. */
export interface Binding {
  aor: string;
  contact: NameAddr;
  /** Where to send requests for this contact. */
  target: Target;
  /** True when the device is a browser (WebSocket flow ⇒ WebRTC media). */
  webrtc: boolean;
  expiresAt: number;
  callId: string;
  cseq: number;
  userAgent?: string;
}

/** Registrar events. */
export type RegistrarEvents = {
  registered: [binding: Binding];
  unregistered: [binding: Binding, why: 'expired' | 'removed' | 'flow-closed'];
};

/** Outcome of a REGISTER, mapped to a response by the caller. */
export type RegisterResult =
  | { status: 200; bindings: Binding[] }
  | { status: 400; reason: string }
  | { status: 403; reason: string }
  | { status: 423; minExpires: number };

/** Options for {@link Registrar}. */
export interface RegistrarOptions {
  clock: Clock;
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  /**
   * Most contacts one address of record may have (default 10): a runaway client or an attacker
   * with one password cannot grow a binding list until its 200 OK no longer fits a datagram.
   */
  maxContacts?: number;
  /** At the cap, a new contact replaces the oldest (default) or is refused with 403. */
  contactLimitPolicy?: 'replace-oldest' | 'reject';
}

/** The gateway's registrar. */
export class Registrar extends Emitter<RegistrarEvents> {
  private readonly bindings = new Map<string, Binding[]>();
  private readonly timers = new Map<Binding, TimerHandle>();

  constructor(private readonly opts: RegistrarOptions) {
    super();
  }

  /** Current bindings of an AOR, freshest first. */
  lookup(aor: string): Binding[] {
    return [...(this.bindings.get(aor.toLowerCase()) ?? [])].sort((a, b) => b.expiresAt - a.expiresAt);
  }

  /** Every AOR with at least one binding. */
  get aors(): string[] {
    return [...this.bindings.keys()];
  }

  /** Applies a REGISTER for `aor` (already authenticated) received from `source`. */
  register(aor: string, req: SipRequest, source: Source): RegisterResult {
    const key = aor.toLowerCase();
    const headerExpires = req.get('expires');
    if (headerExpires !== undefined && !/^\d{1,10}$/.test(headerExpires)) return { status: 400, reason: 'Bad Expires' };
    const rawContacts = req.getAll('contact');
    const now = this.opts.clock.now();

    // §10.3 step 6: "*" must be alone and with Expires: 0.
    if (rawContacts.some((c) => c.trim() === '*')) {
      if (rawContacts.length !== 1 || headerExpires !== '0') return { status: 400, reason: 'Wildcard Contact needs Expires: 0' };
      for (const b of this.lookup(key)) this.remove(b, 'removed');
      return { status: 200, bindings: [] };
    }

    let contacts: NameAddr[];
    try {
      contacts = req.contacts;
    } catch {
      return { status: 400, reason: 'Bad Contact header' };
    }
    // Calls are delivered to bindings, so only SIP contacts make sense here (mailto:, tel: … do not).
    if (contacts.some((c) => c.uri.scheme !== 'sip' && c.uri.scheme !== 'sips')) return { status: 400, reason: 'Contact must be a SIP URI' };
    for (const c of contacts) {
      const expires = this.expiresOf(c, headerExpires);
      if (expires > 0 && expires < this.opts.minExpires) return { status: 423, minExpires: this.opts.minExpires };
    }
    // The cap on contacts per AOR: count what this REGISTER adds.
    const max = this.opts.maxContacts ?? 10;
    const current = this.bindings.get(key) ?? [];
    const adding = contacts.filter((c) => this.expiresOf(c, headerExpires) > 0 && !current.some((b) => sameContact(b.contact, c))).length;
    if (current.length + adding > max) {
      if ((this.opts.contactLimitPolicy ?? 'replace-oldest') === 'reject' || adding > max) return { status: 403, reason: `Too Many Registrations (at most ${max})` };
      // Oldest first: the binding that would expire soonest goes.
      const oldest = [...current].sort((a, b) => a.expiresAt - b.expiresAt).slice(0, current.length + adding - max);
      for (const b of oldest) this.remove(b, 'removed');
    }
    for (const c of contacts) {
      const expires = Math.min(this.expiresOf(c, headerExpires), this.opts.maxExpires);
      const existing = (this.bindings.get(key) ?? []).find((b) => sameContact(b.contact, c));
      // §10.3 step 7: an older CSeq for the same Call-ID is ignored.
      if (existing && existing.callId === req.callId && existing.cseq > req.cseq.seq) continue;
      if (existing) this.remove(existing, expires === 0 ? 'removed' : undefined);
      if (expires === 0) continue;
      const webrtc = source.transport === 'WS' || source.transport === 'WSS';
      const binding: Binding = {
        aor: key,
        contact: c,
        target: { transport: source.transport, host: source.address, port: source.port, flowId: source.flowId },
        webrtc,
        expiresAt: now + expires * 1000,
        callId: req.callId,
        cseq: req.cseq.seq,
      };
      const ua = req.get('user-agent');
      if (ua) binding.userAgent = ua;
      const list = this.bindings.get(key) ?? [];
      list.push(binding);
      this.bindings.set(key, list);
      this.timers.set(binding, this.opts.clock.setTimeout(() => this.remove(binding, 'expired'), expires * 1000));
      if (!existing) this.emit('registered', binding);
    }
    return { status: 200, bindings: this.lookup(key) };
  }

  /** Contact header values for a 200 OK to REGISTER, with remaining expiry (§10.3 step 8). */
  contactHeaders(bindings: Binding[]): string[] {
    const now = this.opts.clock.now();
    return bindings.map((b) =>
      formatNameAddr({ ...b.contact, params: { ...b.contact.params, expires: String(Math.max(0, Math.round((b.expiresAt - now) / 1000))) } }),
    );
  }

  /** Drops bindings that used a closed connection (a browser tab closed, a TCP phone went away). */
  flowClosed(flowId: string): void {
    for (const list of [...this.bindings.values()]) for (const b of [...list]) if (b.target.flowId === flowId) this.remove(b, 'flow-closed');
  }

  private expiresOf(c: NameAddr, headerExpires: string | undefined): number {
    const p = c.params.expires;
    if (p !== undefined && p !== null && /^\d{1,10}$/.test(p)) return Number(p);
    if (headerExpires !== undefined) return Number(headerExpires);
    return this.opts.defaultExpires;
  }

  private remove(b: Binding, why: 'expired' | 'removed' | 'flow-closed' | undefined): void {
    const list = this.bindings.get(b.aor);
    if (!list) return;
    const idx = list.indexOf(b);
    if (idx < 0) return;
    list.splice(idx, 1);
    if (!list.length) this.bindings.delete(b.aor);
    const t = this.timers.get(b);
    if (t) this.opts.clock.clearTimeout(t);
    this.timers.delete(b);
    if (why) this.emit('unregistered', b, why);
  }

  /** Removes every binding and timer. */
  close(): void {
    for (const t of this.timers.values()) this.opts.clock.clearTimeout(t);
    this.timers.clear();
    this.bindings.clear();
  }
}

/** RFC 3261 §19.1.4 comparison, reduced to what identifies a device: user, host, port, transport. */
function sameContact(a: NameAddr, b: NameAddr): boolean {
  const ua = a.uri;
  const ub = b.uri;
  return (
    ua.scheme === ub.scheme && (ua.user ?? '') === (ub.user ?? '') && ua.host === ub.host && (ua.port ?? 0) === (ub.port ?? 0) &&
    (ua.params.transport ?? '').toLowerCase() === (ub.params.transport ?? '').toLowerCase()
  );
}
