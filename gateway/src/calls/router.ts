/**
 * Call routing for the walking skeleton: the echo-test extension, then users by name or
 * extension. Queues and trunks plug in here later.
 */
import type { Binding, Registrar } from '../sip/registrar.js';

/** A user the gateway knows (agent, supervisor or SIP device owner). */
export interface Directory {
  /** Finds a user by user name or extension number. */
  find(nameOrExtension: string): { username: string; displayName?: string } | undefined;
}

/** Where a call goes. */
export type Route =
  | { kind: 'echo' }
  | { kind: 'user'; username: string; displayName?: string; bindings: Binding[] }
  | { kind: 'unknown'; target: string };

/** Resolves dialled targets. */
export class Router {
  constructor(
    private readonly directory: Directory,
    private readonly registrar: Registrar,
    private readonly echoExtensions: readonly string[],
  ) {}

  resolve(target: string): Route {
    if (this.echoExtensions.includes(target.toLowerCase())) return { kind: 'echo' };
    const user = this.directory.find(target);
    if (!user) return { kind: 'unknown', target };
    const route: Route = { kind: 'user', username: user.username, bindings: this.registrar.lookup(user.username) };
    if (user.displayName) route.displayName = user.displayName;
    return route;
  }
}
