/**
 * `/metrics` in the Prometheus text format, with prom-client (DESIGN.md 5: the well-kept library
 * of the field). Every gauge is read at scrape time from the gateway's own counters — nothing is
 * double-booked on the call path — and prom-client's default process metrics add CPU, memory,
 * and event-loop lag (`nodejs_eventloop_lag_*`), the first sign of a gateway that is too busy.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MediaStats } from '../media/types.js';

/** What the metrics are read from, at each scrape. */
export interface MetricsSnapshot {
  calls: { byState: Record<string, number>; legs: number };
  registrations: number;
  dialogs: number;
  transactions: { clients: number; servers: number };
  sip: { received: number; sent: number; malformed: number; answered400: number; refusedConnections: number; idleClosed: number; udpKernelDrops?: number | undefined };
  auth: { authFailures: number; replays: number; registrations: number };
  protection: { droppedBanned: number; droppedRate: number; droppedScanner: number; bans: number; activeBans: number };
  queues: Array<{ name: string; waiting: number; longestWaitMs: number; entered: number; answered: number; abandoned: number; agentsAvailable: number; agentsStaffed: number }>;
  agents: Record<string, number>;
  media: MediaStats | undefined;
  trunks: Array<{ name: string; up: boolean }>;
}

/** A registry with the gateway's metrics; `text()` renders a scrape. */
export function createMetrics(snapshot: () => Promise<MetricsSnapshot>): { registry: Registry; text(): Promise<string>; contentType: string } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  // One snapshot per scrape, shared by every gauge's collect().
  let current: Promise<MetricsSnapshot> | undefined;
  const snap = () => (current ??= snapshot());
  const gauge = <L extends string>(name: string, help: string, labelNames: L[], fill: (g: Gauge<L>, s: MetricsSnapshot) => void) =>
    new Gauge<L>({
      name: `switchboard_${name}`,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        fill(this, await snap());
      },
    });

  gauge('calls', 'Calls in progress, by state', ['state'], (g, s) => {
    for (const [state, n] of Object.entries(s.calls.byState)) g.set({ state }, n);
  });
  gauge('call_legs', 'Call legs with a media endpoint', [], (g, s) => g.set(s.calls.legs));
  gauge('registrations', 'Registered addresses of record', [], (g, s) => g.set(s.registrations));
  gauge('dialogs', 'SIP dialogs', [], (g, s) => g.set(s.dialogs));
  gauge('transactions', 'SIP transactions, by kind', ['kind'], (g, s) => {
    g.set({ kind: 'client' }, s.transactions.clients);
    g.set({ kind: 'server' }, s.transactions.servers);
  });
  gauge('sip_messages_total', 'SIP messages since start, by what happened to them', ['what'], (g, s) => {
    for (const what of ['received', 'sent', 'malformed', 'answered400', 'refusedConnections', 'idleClosed'] as const) g.set({ what }, s.sip[what]);
  });
  gauge('udp_kernel_drops_total', 'Datagrams the kernel dropped for the SIP UDP socket (receive buffer full)', [], (g, s) => g.set(s.sip.udpKernelDrops ?? 0));
  gauge('auth_total', 'Authentication events since start', ['what'], (g, s) => {
    g.set({ what: 'failure' }, s.auth.authFailures);
    g.set({ what: 'replay' }, s.auth.replays);
    g.set({ what: 'registration' }, s.auth.registrations);
  });
  gauge('guard_total', 'Abuse protection since start (drops by reason, bans)', ['what'], (g, s) => {
    g.set({ what: 'dropped_banned' }, s.protection.droppedBanned);
    g.set({ what: 'dropped_rate' }, s.protection.droppedRate);
    g.set({ what: 'dropped_scanner' }, s.protection.droppedScanner);
    g.set({ what: 'bans' }, s.protection.bans);
  });
  gauge('guard_active_bans', 'Source addresses banned now', [], (g, s) => g.set(s.protection.activeBans));
  gauge('queue_waiting', 'Callers waiting, per queue', ['queue'], (g, s) => {
    for (const q of s.queues) g.set({ queue: q.name }, q.waiting);
  });
  gauge('queue_longest_wait_seconds', 'Longest current wait, per queue', ['queue'], (g, s) => {
    for (const q of s.queues) g.set({ queue: q.name }, q.longestWaitMs / 1000);
  });
  gauge('queue_calls_total', 'Queue calls since start, per queue and outcome', ['queue', 'outcome'], (g, s) => {
    for (const q of s.queues) {
      g.set({ queue: q.name, outcome: 'entered' }, q.entered);
      g.set({ queue: q.name, outcome: 'answered' }, q.answered);
      g.set({ queue: q.name, outcome: 'abandoned' }, q.abandoned);
    }
  });
  gauge('queue_agents', 'Agents able to serve a queue, available and staffed', ['queue', 'which'], (g, s) => {
    for (const q of s.queues) {
      g.set({ queue: q.name, which: 'available' }, q.agentsAvailable);
      g.set({ queue: q.name, which: 'staffed' }, q.agentsStaffed);
    }
  });
  gauge('agents', 'Agents, by state', ['state'], (g, s) => {
    for (const [state, n] of Object.entries(s.agents)) g.set({ state }, n);
  });
  gauge('media_endpoints', 'Media endpoints open', [], (g, s) => g.set(s.media?.endpoints ?? 0));
  gauge('media_bridges', 'Media bridges', [], (g, s) => g.set(s.media?.bridges ?? 0));
  gauge('media_packets_total', 'RTP packets since start: relayed, and dropped for coming from an unverified address', ['what'], (g, s) => {
    g.set({ what: 'relayed' }, s.media?.packetsRelayed ?? 0);
    g.set({ what: 'dropped_unverified' }, s.media?.packetsDroppedUnverified ?? 0);
  });
  gauge('media_worker_respawns_total', 'Times the media worker died and was replaced', [], (g, s) => g.set(s.media?.workerRespawns ?? 0));
  gauge('media_mixed_listeners', 'Parties whose audio is mixed now (conferences, supervisors)', [], (g, s) => g.set(s.media?.mixing?.listeners ?? 0));
  gauge('media_mixer_frames_total', 'Mixer: frames since start — mixed, played from jitter buffers, concealed (lost), late packets, dropped to shrink, buffer underruns', ['what'], (g, s) => {
    const m = s.media?.mixing;
    for (const what of ['framesMixed', 'played', 'concealed', 'late', 'dropped', 'underruns'] as const) g.set({ what }, m?.[what] ?? 0);
  });
  gauge('media_mixer_latency_ms', 'Mixer: added latency of mixed frames (arrival to send), recent quantiles', ['quantile'], (g, s) => {
    g.set({ quantile: '0.5' }, s.media?.mixing?.latencyP50Ms ?? 0);
    g.set({ quantile: '0.99' }, s.media?.mixing?.latencyP99Ms ?? 0);
  });
  gauge('trunk_up', 'Trunks in service (1) or down (0)', ['trunk'], (g, s) => {
    for (const t of s.trunks) g.set({ trunk: t.name }, t.up ? 1 : 0);
  });

  return {
    registry,
    contentType: registry.contentType,
    async text() {
      current = undefined;
      try {
        return await registry.metrics();
      } finally {
        current = undefined;
      }
    },
  };
}
