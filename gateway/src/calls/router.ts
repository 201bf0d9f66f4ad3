/**
 * Call routing: the echo-test extension, queues by name or extension, users by name or
 * extension, then numbers that leave through a trunk.
 */
import type { Binding, Registrar } from '../sip/registrar.js';
import type { TransportName } from '../sip/transport/types.js';
import { parseNameAddr } from '../sip/uri.js';

/** A user the gateway knows (agent, supervisor or SIP device owner). */
export interface Directory {
  /** Finds a user by user name or extension number. */
  find(nameOrExtension: string): { username: string; displayName?: string; staticContact?: string } | undefined;
}

/** Where a call goes. */
export type Route =
  | { kind: 'echo' }
  | { kind: 'user'; username: string; displayName?: string; bindings: Binding[] }
  | { kind: 'external'; number: string }
  | { kind: 'queue'; queue: string }
  | { kind: 'unknown'; target: string };

/** Resolves dialled targets. */
export class Router {
  constructor(
    private readonly directory: Directory,
    private readonly registrar: Registrar,
    private readonly echoExtensions: readonly string[],
    /** Whether numbers that are no local user may leave through a trunk. */
    private readonly hasTrunks = false,
    /** Finds a queue by name or extension. */
    private readonly queues: (target: string) => string | undefined = () => undefined,
  ) {}

  resolve(target: string): Route {
    if (this.echoExtensions.includes(target.toLowerCase())) return { kind: 'echo' };
    const queue = this.queues(target);
    if (queue) return { kind: 'queue', queue };
    const user = this.directory.find(target);
    if (!user) {
      // A phone number (digits, optional +, common separators) that is nobody here goes out.
      const number = target.replace(/[\s().-]/g, '');
      if (this.hasTrunks && /^\+?[0-9*#]{3,20}$/.test(number)) return { kind: 'external', number };
      return { kind: 'unknown', target };
    }
    let bindings = this.registrar.lookup(user.username);
    if (!bindings.length && user.staticContact) bindings = [staticBinding(user.username, user.staticContact)];
    const route: Route = { kind: 'user', username: user.username, bindings };
    if (user.displayName) route.displayName = user.displayName;
    return route;
  }
}

/** A binding for a device configured with a fixed address instead of registering. */
export function staticBinding(aor: string, uriText: string): Binding {
  const contact = parseNameAddr(`<${uriText}>`);
  const u = contact.uri;
  const transport = ((u.params.transport ?? (u.scheme === 'sips' ? 'tls' : 'udp')).toUpperCase()) as TransportName;
  return {
    aor,
    contact,
    target: { transport, host: u.host, port: u.port ?? (transport === 'TLS' ? 5061 : 5060) },
    webrtc: false,
    expiresAt: Number.POSITIVE_INFINITY,
    callId: 'static',
    cseq: 0,
  };
}
