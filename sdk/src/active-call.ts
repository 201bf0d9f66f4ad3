/**
 * The call an agent is talking on when several are up (a consultation while the customer is
 * held): the connected one this agent has not put on hold, else any connected one. Level meters
 * and headset buttons act on it.
 */
export function activeCall<T extends { readonly state: string; readonly holdState: { onHold: boolean; by?: 'local' | 'remote' } }>(calls: readonly T[]): T | undefined {
  const connected = calls.filter((c) => c.state === 'connected');
  return connected.find((c) => !(c.holdState.onHold && c.holdState.by === 'local')) ?? connected[0];
}
