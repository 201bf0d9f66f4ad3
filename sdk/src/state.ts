/**
 * A guarded state holder: one transition method that rejects moves not in the table, and
 * reports only real changes (the pattern of SIP.js `stateTransition()` and livekit's
 * `setAndEmitConnectionState`).
 */
export class StateMachine<S extends string> {
  private current: S;

  constructor(
    initial: S,
    private readonly allowed: Readonly<Record<S, readonly S[]>>,
    private readonly onChange: (next: S, prev: S) => void,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  /** Whether `next` is a legal move from the current state. */
  can(next: S): boolean {
    return this.allowed[this.current].includes(next);
  }

  /** Moves to `next`; returns false (and changes nothing) if the move is not allowed. */
  to(next: S): boolean {
    if (next === this.current) return true;
    if (!this.can(next)) return false;
    const prev = this.current;
    this.current = next;
    this.onChange(next, prev);
    return true;
  }
}
