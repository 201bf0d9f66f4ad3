import { log } from './log.js';

/** A map of event name → listener argument tuple, checked by the compiler. */
export type EventMap = Record<string, unknown[]>;

/** A listener for one event of an event map. */
export type Listener<A extends unknown[]> = (...args: A) => void;
// Listeners are stored untyped; the public methods keep the event map typed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

/**
 * A small typed event emitter. Listener exceptions are caught and logged, so a faulty listener
 * can never break a SIP transaction or the media path (the idea of mediasoup's `safeEmit`).
 */
export class Emitter<E extends EventMap> {
  private listeners = new Map<keyof E, Set<AnyListener>>();

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as AnyListener);
    return this;
  }

  once<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const wrapper = ((...args: E[K]) => {
      this.off(event, wrapper);
      fn(...args);
    }) as Listener<E[K]>;
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    this.listeners.get(event)?.delete(fn as AnyListener);
    return this;
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        log.error('emitter', `listener for "${String(event)}" threw`, err);
      }
    }
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }
}
