/**
 * Call records and agent history in SQLite (better-sqlite3; DESIGN.md decision 5). Writes are
 * synchronous and committed (WAL): a call's record is opened the moment the call exists
 * (`outcome` "in-progress"), kept current as its state changes, and completed before its legs
 * and media are released. After a crash, {@link RecordStore.closeInterrupted} marks the records
 * of calls that were live as `interrupted` (with their last known state), so billing and
 * reporting never lose a call.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PartyRecord } from '../calls/call.js';
import type { AgentTransition } from './agents.js';
import type { CallData } from '@switchboard/protocol';

/** A call record (CDR). Times are ms since the epoch. */
export interface CallRecord {
  id: string;
  startedAt: number;
  answeredAt?: number;
  endedAt: number;
  /** Caller's number or user name; callee as finally connected (agent, user, number, queue). */
  caller: string;
  callee: string;
  queue?: string;
  /** The agent who answered the call from the queue. */
  agent?: string;
  trunk?: string;
  codec?: string;
  /** `caller`, `callee` or `gateway`, with the final status and reason. */
  endedBy: string;
  endStatus: number;
  endReason: string;
  /** Queue wait until answered or abandoned, ms. */
  waitMs?: number;
  /** Connected time, ms. */
  talkMs?: number;
  /** `answered`, `abandoned`, `overflowed`, `failed`, `cancelled`, `refused`; `in-progress` while live; `interrupted` after a crash. */
  outcome: string;
  /** The call's state when the record was last written (for interrupted calls: what it was doing). */
  lastState?: string;
  wrapUpCode?: string;
  wrapUpNotes?: string;
  timeline: Array<{ at: number; event: string; detail?: string }>;
  transfers: Array<{ at: number; by: string; to: string; result: string }>;
  /**
   * Every party that was in the call: principals, conference participants, supervisors — when each
   * joined and left and its modes over time (who monitored or whispered to whom, when).
   */
  parties?: PartyRecord[];
  /** The call's data: what was dialled, the caller's name, the attributes attached to it. */
  data?: CallData;
}

/** Whether `user` took part in the recorded call (caller, callee, the agent, or any party). */
export function involves(rec: CallRecord, user: string): boolean {
  const me = user.toLowerCase();
  return [rec.caller, rec.callee, rec.agent, ...(rec.parties ?? []).map((p) => p.party)].some((p) => p?.toLowerCase() === me);
}

/** Filters for {@link RecordStore.calls}. */
export interface RecordFilter {
  from?: number;
  to?: number;
  queue?: string;
  agent?: string;
  /** Matches caller or callee. */
  party?: string;
  outcome?: string;
  limit?: number;
  offset?: number;
}

interface Row {
  id: string; started_at: number; answered_at: number | null; ended_at: number; caller: string; callee: string; queue: string | null; agent: string | null;
  trunk: string | null; codec: string | null; ended_by: string; end_status: number; end_reason: string; wait_ms: number | null; talk_ms: number | null;
  outcome: string; wrap_up_code: string | null; wrap_up_notes: string | null; timeline: string; transfers: string; last_state: string | null; parties: string | null; data: string | null;
}

/** The record store. */
export class RecordStore {
  private readonly db: Database.Database;
  private readonly insertCall: Database.Statement;
  private readonly insertAgent: Database.Statement;
  private readonly wrapUp: Database.Statement;

  /** Opens (creating if needed) the database at `file`; `:memory:` keeps it in memory. */
  constructor(file: string) {
    try {
      if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      this.db = new Database(file);
    } catch (err) {
      throw new Error(`center.database: cannot open ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a process crash (not a power cut).
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS calls (
        id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, answered_at INTEGER, ended_at INTEGER NOT NULL,
        caller TEXT NOT NULL, callee TEXT NOT NULL, queue TEXT, agent TEXT, trunk TEXT, codec TEXT,
        ended_by TEXT NOT NULL, end_status INTEGER NOT NULL, end_reason TEXT NOT NULL,
        wait_ms INTEGER, talk_ms INTEGER, outcome TEXT NOT NULL,
        wrap_up_code TEXT, wrap_up_notes TEXT, timeline TEXT NOT NULL, transfers TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS calls_started ON calls (started_at);
      CREATE INDEX IF NOT EXISTS calls_queue ON calls (queue, started_at);
      CREATE INDEX IF NOT EXISTS calls_agent ON calls (agent, started_at);
      CREATE TABLE IF NOT EXISTS agent_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL, at INTEGER NOT NULL,
        state TEXT NOT NULL, previous TEXT NOT NULL, reason TEXT, changed_by TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS agent_history_agent ON agent_history (agent, at);
    `);
    // Databases from before crash-safe records lack last_state.
    const cols = (this.db.prepare('PRAGMA table_info(calls)').all() as Array<{ name: string }>).map((c) => c.name);
    if (!cols.includes('last_state')) this.db.exec('ALTER TABLE calls ADD COLUMN last_state TEXT');
    // ... and those from before conferences lack parties.
    if (!cols.includes('parties')) this.db.exec('ALTER TABLE calls ADD COLUMN parties TEXT');
    // ... and those from before call data lack data.
    if (!cols.includes('data')) this.db.exec('ALTER TABLE calls ADD COLUMN data TEXT');
    this.insertCall = this.db.prepare(`INSERT OR REPLACE INTO calls (id, started_at, answered_at, ended_at, caller, callee, queue, agent, trunk, codec,
      ended_by, end_status, end_reason, wait_ms, talk_ms, outcome, wrap_up_code, wrap_up_notes, timeline, transfers, last_state, parties, data)
      VALUES (@id, @started_at, @answered_at, @ended_at, @caller, @callee, @queue, @agent, @trunk, @codec,
      @ended_by, @end_status, @end_reason, @wait_ms, @talk_ms, @outcome, @wrap_up_code, @wrap_up_notes, @timeline, @transfers, @last_state, @parties, @data)`);
    this.insertAgent = this.db.prepare('INSERT INTO agent_history (agent, at, state, previous, reason, changed_by) VALUES (?, ?, ?, ?, ?, ?)');
    this.wrapUp = this.db.prepare('UPDATE calls SET wrap_up_code = ?, wrap_up_notes = ?, timeline = json_insert(timeline, \'$[#]\', json(?)) WHERE id = ?');
  }

  /** Writes a finished call's record (synchronously, committed on return). */
  addCall(r: CallRecord): void {
    this.insertCall.run({
      id: r.id, started_at: r.startedAt, answered_at: r.answeredAt ?? null, ended_at: r.endedAt, caller: r.caller, callee: r.callee,
      queue: r.queue ?? null, agent: r.agent ?? null, trunk: r.trunk ?? null, codec: r.codec ?? null, ended_by: r.endedBy, end_status: r.endStatus,
      end_reason: r.endReason, wait_ms: r.waitMs ?? null, talk_ms: r.talkMs ?? null, outcome: r.outcome, wrap_up_code: r.wrapUpCode ?? null,
      wrap_up_notes: r.wrapUpNotes ?? null, timeline: JSON.stringify(r.timeline), transfers: JSON.stringify(r.transfers), last_state: r.lastState ?? null,
      parties: r.parties ? JSON.stringify(r.parties) : null, data: r.data ? JSON.stringify(r.data) : null,
    });
  }

  /** Replaces a record's call data (attributes attached after the call); false if there is no such record. */
  setData(id: string, data: CallData): boolean {
    return this.db.prepare('UPDATE calls SET data = ? WHERE id = ?').run(JSON.stringify(data), id).changes > 0;
  }

  /**
   * After a crash: every record still `in-progress` belonged to a call that was live when the
   * process died. It is closed as `interrupted`, ended at its last known moment (the last step of
   * its timeline), keeping its last state. Returns how many were closed.
   */
  closeInterrupted(reason = 'Gateway stopped unexpectedly'): number {
    const rows = this.db.prepare("SELECT id, started_at, answered_at, timeline FROM calls WHERE outcome = 'in-progress'").all() as Array<{ id: string; started_at: number; answered_at: number | null; timeline: string }>;
    const close = this.db.prepare("UPDATE calls SET outcome = 'interrupted', ended_at = ?, ended_by = 'gateway', end_status = 0, end_reason = ?, talk_ms = ?, timeline = json_insert(timeline, '$[#]', json(?)) WHERE id = ?");
    this.db.transaction(() => {
      for (const r of rows) {
        let last = r.started_at;
        try {
          const steps = JSON.parse(r.timeline) as Array<{ at: number }>;
          last = Math.max(last, ...steps.map((s) => s.at));
        } catch {
          // keep started_at
        }
        close.run(last, reason, r.answered_at !== null ? last - r.answered_at : null, JSON.stringify({ at: last, event: 'interrupted', detail: reason }), r.id);
      }
    })();
    return rows.length;
  }

  /** Checks the database file (SQLite `PRAGMA integrity_check`); "ok" when sound. */
  integrityCheck(): string {
    return (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }

  /**
   * Each agent's last state change at or after `since` (ms since the epoch): what a restarted
   * gateway restores (see ContactCenter).
   */
  lastAgentStates(since: number): Map<string, { state: string; reason?: string; at: number }> {
    const rows = this.db
      .prepare('SELECT agent, state, reason, at FROM agent_history WHERE seq IN (SELECT max(seq) FROM agent_history GROUP BY lower(agent)) AND at >= ?')
      .all(since) as Array<{ agent: string; state: string; reason: string | null; at: number }>;
    return new Map(rows.map((r) => [r.agent.toLowerCase(), { state: r.state, at: r.at, ...(r.reason ? { reason: r.reason } : {}) }]));
  }

  /** Adds the agent's wrap-up code and notes to a record; false when there is no such call. */
  setWrapUp(id: string, code: string | undefined, notes: string | undefined, at: number): boolean {
    const step = JSON.stringify({ at, event: 'wrap-up', ...(code ? { detail: code } : {}) });
    return this.wrapUp.run(code ?? null, notes ?? null, step, id).changes > 0;
  }

  /** One record. */
  call(id: string): CallRecord | undefined {
    const row = this.db.prepare('SELECT * FROM calls WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** Records matching a filter, newest first (at most 1,000 per page). */
  calls(f: RecordFilter = {}): CallRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.from !== undefined) where.push('started_at >= ?') && args.push(f.from);
    if (f.to !== undefined) where.push('started_at < ?') && args.push(f.to);
    if (f.queue) where.push('queue = ? COLLATE NOCASE') && args.push(f.queue);
    if (f.agent) where.push('agent = ? COLLATE NOCASE') && args.push(f.agent);
    if (f.party) where.push('(caller = ? OR callee = ?)') && args.push(f.party, f.party);
    if (f.outcome) where.push('outcome = ?') && args.push(f.outcome);
    const limit = Math.min(Math.max(1, f.limit ?? 100), 1000);
    const sql = `SELECT * FROM calls ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY started_at DESC, id LIMIT ? OFFSET ?`;
    return (this.db.prepare(sql).all(...args, limit, Math.max(0, f.offset ?? 0)) as Row[]).map(fromRow);
  }

  /** How the calls in a period ended: counts per outcome and final status (for reports and tests). */
  summary(from = 0, to = Number.MAX_SAFE_INTEGER): Array<{ outcome: string; status: number; reason: string; count: number }> {
    return this.db
      .prepare('SELECT outcome, end_status AS status, end_reason AS reason, count(*) AS count FROM calls WHERE started_at >= ? AND started_at < ? GROUP BY outcome, end_status, end_reason ORDER BY count DESC')
      .all(from, to) as Array<{ outcome: string; status: number; reason: string; count: number }>;
  }

  /** Persists an agent state change. */
  addAgentTransition(t: AgentTransition): void {
    this.insertAgent.run(t.agent, t.at, t.state, t.previous, t.reason ?? null, t.by);
  }

  /** An agent's state history, oldest first. */
  agentHistory(agent: string, from = 0, limit = 1000): AgentTransition[] {
    const rows = this.db.prepare('SELECT * FROM agent_history WHERE agent = ? COLLATE NOCASE AND at >= ? ORDER BY seq LIMIT ?').all(agent, from, Math.min(limit, 10_000)) as Array<{
      agent: string; at: number; state: string; previous: string; reason: string | null; changed_by: string;
    }>;
    return rows.map((r) => ({ agent: r.agent, at: r.at, state: r.state, previous: r.previous, by: r.changed_by, ...(r.reason ? { reason: r.reason } : {}) }) as AgentTransition);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function fromRow(r: Row): CallRecord {
  const rec: CallRecord = {
    id: r.id, startedAt: r.started_at, endedAt: r.ended_at, caller: r.caller, callee: r.callee, endedBy: r.ended_by, endStatus: r.end_status,
    endReason: r.end_reason, outcome: r.outcome, timeline: JSON.parse(r.timeline) as CallRecord['timeline'], transfers: JSON.parse(r.transfers) as CallRecord['transfers'],
  };
  if (r.answered_at !== null) rec.answeredAt = r.answered_at;
  if (r.queue !== null) rec.queue = r.queue;
  if (r.agent !== null) rec.agent = r.agent;
  if (r.trunk !== null) rec.trunk = r.trunk;
  if (r.codec !== null) rec.codec = r.codec;
  if (r.wait_ms !== null) rec.waitMs = r.wait_ms;
  if (r.talk_ms !== null) rec.talkMs = r.talk_ms;
  if (r.wrap_up_code !== null) rec.wrapUpCode = r.wrap_up_code;
  if (r.wrap_up_notes !== null) rec.wrapUpNotes = r.wrap_up_notes;
  if (r.last_state !== null && r.last_state !== undefined) rec.lastState = r.last_state;
  if (r.parties) rec.parties = JSON.parse(r.parties) as PartyRecord[];
  if (r.data) rec.data = JSON.parse(r.data) as CallData;
  return rec;
}

const CSV_COLUMNS = ['id', 'startedAt', 'answeredAt', 'endedAt', 'caller', 'callee', 'queue', 'agent', 'trunk', 'codec', 'outcome', 'waitMs', 'talkMs', 'endedBy', 'endStatus', 'endReason', 'wrapUpCode', 'wrapUpNotes', 'transfers', 'parties', 'attributes'] as const;

/**
 * Records as CSV (RFC 4180): ISO times, transfers as `by>to:result`, parties as
 * `name:role:mode>mode` and attributes as `key=value`, each separated by `;`.
 */
export function recordsToCsv(records: CallRecord[]): string {
  const cell = (v: unknown): string => {
    const s = v === undefined || v === null ? '' : String(v);
    // Quote when needed; a cell a spreadsheet would run as a formula (OWASP CSV injection: a
    // leading = + - @, also after spaces, or a leading TAB or CR) is prefixed with ' — unless it
    // is just a number (+15551234, -3).
    const safe = /^(?:[ ]*[=+\-@]|[\t\r])/.test(s) && !/^[+-]?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    lines.push(CSV_COLUMNS.map((c) => {
      if (c === 'startedAt' || c === 'answeredAt' || c === 'endedAt') return cell(r[c] !== undefined ? new Date(r[c]!).toISOString() : '');
      if (c === 'transfers') return cell(r.transfers.map((t) => `${t.by}>${t.to}:${t.result}`).join(';'));
      if (c === 'attributes') return cell(Object.entries(r.data?.attributes ?? {}).map(([k, v]) => `${k}=${v}`).join(';'));
      if (c === 'parties') return cell((r.parties ?? []).map((p) => `${p.party}:${p.role}:${p.modes.map((m) => m.mode).join('>')}`).join(';'));
      return cell(r[c]);
    }).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
