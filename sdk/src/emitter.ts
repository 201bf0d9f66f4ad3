/** A map of event name → listener argument tuple. */
export type EventMap = Record<string, unknown[]>;

// Listeners are stored untyped; the public methods keep the event map typed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

/**
 * A typed event emitter. A listener that throws is reported to `console.error` and never
 * breaks the SDK's own state handling.
 */
export class Emitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<AnyListener>>();

  /** Adds a listener. */
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const wrapped = (...args: E[K]) => {
      this.off(event, wrapped);
      listener(...args);
    };
    return this.on(event, wrapped);
  }

  /** Removes a listener. */
  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  /** @internal */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`[switchboard] listener for "${String(event)}" threw`, err);
      }
    }
  }
}
