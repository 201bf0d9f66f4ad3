/**
 * The hearing matrix: from the parties of a call and how each takes part, who hears whom
 * (docs/conference.md). A pure function, so the rules can be read and tested in one place; the
 * call turns its result into the media engine's bridge.
 *
 * | mode       | hears                           | is heard by                  |
 * |------------|---------------------------------|------------------------------|
 * | conference | every other audible party       | everybody (mix-minus)        |
 * | barge      | every other audible party       | everybody                    |
 * | whisper    | every conference/barge party    | only the agent it coaches    |
 * | monitor    | every conference/barge party    | nobody                       |
 *
 * A party holding hears nothing and is heard by nobody. A party muted at the gateway is heard by
 * nobody. A conference party left with nobody to hear because the others hold hears music on
 * hold. A party with its own music (waiting in a queue) hears only that.
 */

/** How a party takes part in a call. */
export type PartyMode = 'conference' | 'monitor' | 'whisper' | 'barge';

/** What the matrix needs to know of a party. */
export interface HearingParty {
  id: string;
  mode: PartyMode;
  /** Holding: it hears nothing and is heard by nobody (the hold button). */
  holding: boolean;
  /** Muted at the gateway: heard by nobody. */
  serverMuted: boolean;
  /** For a whisper: the party (id) who hears it. */
  coaches?: string | undefined;
  /** Music for this party instead of the call (a queue's, '' for the default). */
  music?: string | undefined;
}

/** One party's ear: the parties it hears, or music. */
export interface Ear {
  id: string;
  hears: string[];
  /** Music instead (a WAV path, '' for the default). */
  music?: string;
}

/** Whether `speaker` is heard by `listener` (both present, neither holding). */
function audible(speaker: HearingParty, listener: HearingParty): boolean {
  if (speaker.serverMuted) return false;
  switch (speaker.mode) {
    case 'conference':
    case 'barge':
      return true;
    case 'whisper':
      return speaker.coaches === listener.id;
    case 'monitor':
      return false;
  }
}

/** Every party's ear, in the order given. */
export function hearingMatrix(parties: readonly HearingParty[]): Ear[] {
  const someoneHolds = parties.some((p) => p.holding && (p.mode === 'conference' || p.mode === 'barge'));
  return parties.map((l) => {
    if (l.music !== undefined) return { id: l.id, hears: [], music: l.music };
    if (l.holding) return { id: l.id, hears: [] };
    const hears = parties.filter((s) => s !== l && !s.holding && s.music === undefined && audible(s, l)).map((s) => s.id);
    // Left alone because the others hold: music on hold (supervisors just hear what there is).
    const talker = l.mode === 'conference' || l.mode === 'barge';
    if (talker && someoneHolds && !parties.some((s) => s !== l && !s.holding && s.music === undefined && (s.mode === 'conference' || s.mode === 'barge'))) return { id: l.id, hears: [], music: '' };
    return { id: l.id, hears };
  });
}
