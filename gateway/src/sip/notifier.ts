/**
 * The notifier side of SIP-specific event notification (RFC 6665) for event packages the gateway
 * serves (the dialog package, RFC 4235, for busy lamp fields). A SUBSCRIBE creates a subscription
 * dialog: 200 OK with the granted Expires, then at once a NOTIFY with the full state; each change
 * of the watched resource sends another; a refresh (SUBSCRIBE in the dialog) extends it and gets
 * the full state again; `Expires: 0` ends it; at expiry the subscriber gets a final NOTIFY with
 * `Subscription-State: terminated;reason=timeout` (§4.2.2). A NOTIFY answered with 481 or not
 * at all ends the subscription (§4.1.3).
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { log } from '../util/log.js';
import { Dialog } from './dialog.js';
import { formatNameAddr } from './uri.js';
import { randomToken, type SipRequest } from './message.js';
import type { ServerTransaction, TransactionLayer } from './transaction/layer.js';
import type { Source, TransportName } from './transport/types.js';

/** What the notifier needs of the SIP core. */
export interface NotifierHost {
  readonly txl: TransactionLayer;
  respond(tx: ServerTransaction, status: number, reason?: string, headers?: Array<[string, string]>, toTag?: string): void;
  contactFor(transport: TransportName): string;
  addDialog(d: Dialog): void;
  removeDialog(d: Dialog): void;
}

/** An event package: who may watch what, and the state documents. */
export interface EventPackage {
  /** The Event header's package name (`dialog`). */
  readonly event: string;
  /** The NOTIFY body type (`application/dialog-info+xml`). */
  readonly contentType: string;
  /**
   * Whether `user` may watch the resource named by a Request-URI user part: its canonical name
   * (the key of {@link Notifier.changed}), or a refusal (404 for nothing by that name, 403).
   */
  resolve(user: string, target: string): { resource: string } | { status: number; reason: string };
  /** The full state document of `resource` for one subscription (`entity`: the URI it watches). */
  document(resource: string, version: number, entity: string): string;
}

/** Limits of the notifier. */
export interface NotifierOptions {
  /** Expires when a SUBSCRIBE names none, and the longest granted (RFC 4235 §3.3: 3600 s). */
  maxExpires: number;
  /** Shorter refreshes get 423 with Min-Expires. */
  minExpires: number;
  /** Subscriptions one user may hold at once (an attacker must not fill memory). */
  perUser: number;
  /** Subscriptions in all. */
  total: number;
}

/** Defaults of {@link NotifierOptions}. */
export const NOTIFIER_DEFAULTS: NotifierOptions = { maxExpires: 3600, minExpires: 60, perUser: 200, total: 20_000 };

interface Subscription {
  readonly pkg: EventPackage;
  readonly resource: string;
  readonly subscriber: string;
  readonly entity: string;
  readonly dialog: Dialog;
  version: number;
  expiresAt: number;
  timer?: TimerHandle;
  /** NOTIFYs in flight are sent one after another (RFC 6665 §4.2.2: in order). */
  chain: Promise<void>;
  ended: boolean;
}

/** The notifier: subscriptions by resource, NOTIFY on change. */
export class Notifier {
  private readonly packages = new Map<string, EventPackage>();
  private readonly byResource = new Map<string, Set<Subscription>>();
  private readonly all = new Set<Subscription>();

  constructor(
    private readonly host: NotifierHost,
    private readonly clock: Clock,
    private readonly opts: NotifierOptions = NOTIFIER_DEFAULTS,
  ) {}

  /** Serves an event package. */
  register(pkg: EventPackage): void {
    this.packages.set(pkg.event, pkg);
  }

  /** Names of the packages served (for Allow-Events). */
  get events(): string[] {
    return [...this.packages.keys()];
  }

  /** Resources someone watches now, per package. */
  watched(event: string): string[] {
    return [...this.byResource.keys()].filter((k) => k.startsWith(`${event}\n`)).map((k) => k.slice(event.length + 1));
  }

  /** Subscriptions now (health, tests). */
  get size(): number {
    return this.all.size;
  }

  /** The state of `resource` changed: every subscription to it gets a NOTIFY. */
  changed(event: string, resource: string): void {
    for (const s of this.byResource.get(`${event}\n${resource}`) ?? []) this.notify(s);
  }

  /** An initial SUBSCRIBE (outside a dialog) from an authenticated `user`. */
  subscribe(req: SipRequest, tx: ServerTransaction, source: Source, user: string): void {
    const event = (req.get('event') ?? '').split(';')[0]!.trim().toLowerCase();
    const pkg = this.packages.get(event);
    if (!pkg) return this.host.respond(tx, 489, 'Bad Event', [['allow-events', this.events.join(', ')]]);
    // §4.2.1: an Accept that does not list the package's type cannot be served.
    const accept = req.get('accept');
    if (accept !== undefined && !accept.toLowerCase().split(',').some((t) => t.split(';')[0]!.trim() === pkg.contentType)) {
      return this.host.respond(tx, 406, 'Not Acceptable', [['accept', pkg.contentType]]);
    }
    const expires = this.expiresOf(req, tx);
    if (expires === undefined) return;
    const resolved = pkg.resolve(user, req.requestUri.user ?? '');
    if ('status' in resolved) {
      log.info('sip.subscribe', `${user} may not watch ${event} of "${(req.requestUri.user ?? '').slice(0, 64)}": ${resolved.status} ${resolved.reason}`);
      return this.host.respond(tx, resolved.status, resolved.reason);
    }
    const mine = [...this.all].filter((s) => s.subscriber === user.toLowerCase()).length;
    if (expires > 0 && (mine >= this.opts.perUser || this.all.size >= this.opts.total)) {
      log.warn('sip.subscribe', `${user}: subscription refused, ${mine >= this.opts.perUser ? `${mine} held (limit ${this.opts.perUser})` : `${this.all.size} in all (limit ${this.opts.total})`}`);
      return this.host.respond(tx, 503, 'Too Many Subscriptions', [['retry-after', '60']]);
    }
    const contact = req.contacts[0];
    if (!contact) return this.host.respond(tx, 400, 'SUBSCRIBE Without Contact');
    const toTag = randomToken(6);
    const dialog = new Dialog(
      {
        callId: req.callId,
        localTag: toTag,
        remoteTag: req.fromTag ?? '',
        localUri: `${req.get('to')!};tag=${toTag}`,
        remoteUri: req.get('from')!,
        localSeq: Math.floor(Math.random() * 10_000),
        remoteSeq: req.cseq.seq,
        remoteTarget: formatNameAddr({ uri: contact.uri, params: {} }).slice(1, -1),
        routeSet: req.getAll('record-route'),
        target: { transport: source.transport, host: source.address, port: source.port, flowId: source.flowId },
        localContact: this.host.contactFor(source.transport),
        owner: user,
      },
      this.host.txl,
      (d) => this.host.removeDialog(d),
    );
    const entity = `sip:${resolved.resource}@${req.requestUri.host}`;
    const s: Subscription = { pkg, resource: resolved.resource, subscriber: user.toLowerCase(), entity, dialog, version: 0, expiresAt: 0, chain: Promise.resolve(), ended: false };
    this.host.respond(tx, 200, undefined, [['expires', String(expires)], ['contact', dialog.init.localContact], ...req.getAll('record-route').map((r): [string, string] => ['record-route', r])], toTag);
    if (expires === 0) {
      // A fetch (§4.4.3): the state once, and the subscription is over.
      this.notify(s, 'terminated;reason=timeout');
      return;
    }
    this.host.addDialog(dialog);
    dialog.on('request', (r, t) => this.inDialog(s, r, t));
    dialog.on('terminated', () => this.drop(s));
    this.all.add(s);
    const key = `${pkg.event}\n${s.resource}`;
    let set = this.byResource.get(key);
    if (!set) this.byResource.set(key, (set = new Set()));
    set.add(s);
    this.arm(s, expires);
    log.info('sip.subscribe', `${user} watches ${pkg.event} of ${s.resource} for ${expires} s`);
    this.notify(s);
  }

  /** Expires asked for (none: the maximum), capped; 423 for a too short one (not 0); undefined when answered. */
  private expiresOf(req: SipRequest, tx: ServerTransaction): number | undefined {
    const raw = req.get('expires');
    if (raw !== undefined && !/^\d{1,10}$/.test(raw.trim())) {
      this.host.respond(tx, 400, 'Bad Expires');
      return undefined;
    }
    const asked = raw === undefined ? this.opts.maxExpires : Number(raw);
    if (asked > 0 && asked < this.opts.minExpires) {
      this.host.respond(tx, 423, 'Interval Too Brief', [['min-expires', String(this.opts.minExpires)]]);
      return undefined;
    }
    return Math.min(asked, this.opts.maxExpires);
  }

  /** A request in a subscription's dialog: a refresh or an unsubscribe; anything else is refused. */
  private inDialog(s: Subscription, req: SipRequest, tx: ServerTransaction): void {
    if (req.method !== 'SUBSCRIBE') return this.host.respond(tx, 405, undefined, [['allow', 'SUBSCRIBE']], s.dialog.init.localTag);
    const expires = this.expiresOf(req, tx);
    if (expires === undefined) return;
    this.host.respond(tx, 200, undefined, [['expires', String(expires)], ['contact', s.dialog.init.localContact]], s.dialog.init.localTag);
    if (expires === 0) return this.end(s, 'timeout');
    this.arm(s, expires);
    this.notify(s);
  }

  private arm(s: Subscription, seconds: number): void {
    if (s.timer) this.clock.clearTimeout(s.timer);
    s.expiresAt = this.clock.now() + seconds * 1000;
    s.timer = this.clock.setTimeout(() => {
      log.info('sip.subscribe', `${s.subscriber}'s subscription to ${s.resource} expired`);
      this.end(s, 'timeout');
    }, seconds * 1000);
  }

  /** Ends a subscription with a final NOTIFY (`terminated;reason=…`). */
  private end(s: Subscription, reason: string): void {
    if (s.ended) return;
    this.notify(s, `terminated;reason=${reason}`);
    this.drop(s);
    // The final NOTIFY's transaction still needs the dialog's route; the dialog goes after it.
    void s.chain.then(() => s.dialog.end('bye-sent'));
  }

  private drop(s: Subscription): void {
    if (s.ended) return;
    s.ended = true;
    if (s.timer) this.clock.clearTimeout(s.timer);
    this.all.delete(s);
    const key = `${s.pkg.event}\n${s.resource}`;
    const set = this.byResource.get(key);
    set?.delete(s);
    if (set && !set.size) this.byResource.delete(key);
  }

  /** Queues a NOTIFY with the resource's full state (in order after the ones in flight). */
  private notify(s: Subscription, state?: string): void {
    const body = s.pkg.document(s.resource, s.version++, s.entity);
    const subState = state ?? `active;expires=${Math.max(0, Math.round((s.expiresAt - this.clock.now()) / 1000))}`;
    s.chain = s.chain.then(async () => {
      const res = await s.dialog.request('NOTIFY', { body: Buffer.from(body, 'utf8'), contentType: s.pkg.contentType, headers: [['event', s.pkg.event], ['subscription-state', subState]] });
      if (res.status === 481 || res.status === 408 || ('local' in res && res.local)) {
        // §4.1.3 / §4.2.2: the subscriber is gone.
        if (!s.ended) log.info('sip.subscribe', `${s.subscriber}'s subscription to ${s.resource} ended: NOTIFY got ${res.status}`);
        this.drop(s);
        s.dialog.end('bye-sent');
      }
    });
  }

  /**
   * Shutdown: each subscriber is told to come back in a minute (RFC 6665 §4.1.3 `probation` with
   * `retry-after`), and the subscription dialogs go (no BYE: they are not INVITE dialogs).
   */
  close(): void {
    for (const s of [...this.all]) {
      this.notify(s, 'terminated;reason=probation;retry-after=60');
      this.drop(s);
      s.dialog.end('bye-sent');
    }
  }
}
