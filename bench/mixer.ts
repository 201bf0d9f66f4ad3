/**
 * The conference mixer's cost and quality, against the two-party relay (issue 17's budget: a
 * mixed party costs at most 2× a relayed leg; mixing adds ≤ 40 ms p99; no loss up to 80 % of a
 * core).
 *
 *   npm run bench:mixer [-- seconds]      (node --import tsx bench/mixer.ts [seconds per step, default 5])
 *
 * The media engine runs in this process (the same code the media worker runs); the parties are
 * plain-RTP legs in a separate process (bench/rtp-load.mjs) that send 50 PCMU packets/s each and
 * count what they get back. For each scenario the engine's CPU time over the window is divided
 * by the legs: relayed two-party calls, then conferences of 3, 5 and 10 (every party mixed).
 * Then conferences of 5 are added until the engine passes 80 % of a core, to find how many fit.
 * Loss is what the legs did not receive of the 50/s each should get; latency is the engine's own
 * measure (a source packet's arrival → its audio sent in the mix, jitter margin included) over
 * the whole window, from its histogram; jitter p99 is the 99th percentile gap between packets at
 * the receiving legs, minus the nominal 20 ms; late/trim are the jitter buffers' step backs for
 * a late packet and delay trims, per mixed source per minute.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { LocalMediaEngine } from '../gateway/src/media/engine.js';
import type { BridgeMember } from '../gateway/src/media/types.js';
import { setLogSink } from '../gateway/src/util/log.js';

setLogSink(() => undefined);
const SECONDS = Number(process.argv[2] ?? 5);

// With two cores or more, the engine and the load each get a core of their own (taskset, where
// there is one): the load's packets are then paced as a remote phone's would be, not delayed by
// the engine it is measuring, and "% of a core" is the engine's one core.
const pinned = os.availableParallelism() >= 2 && spawnSync('taskset', ['-pc', '0', String(process.pid)]).status === 0;
const load = pinned
  ? spawn('taskset', ['-c', '1', process.execPath, path.join(import.meta.dirname, 'rtp-load.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] })
  : spawn(process.execPath, [path.join(import.meta.dirname, 'rtp-load.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = readline.createInterface({ input: load.stdout! });
const waiting: Array<(l: string) => void> = [];
lines.on('line', (l) => waiting.shift()?.(l));
function ask<T>(cmd: Record<string, unknown>): Promise<T> {
  return new Promise((resolve) => {
    waiting.push((l) => resolve(JSON.parse(l) as T));
    load.stdin!.write(JSON.stringify(cmd) + '\n');
  });
}

const offer = (port: number) => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');

interface Result {
  label: string;
  legs: number;
  groups: number;
  cpu: number;
  lossPct: number;
  latencyP50: number;
  latencyP99: number;
  jitterP99: number;
  concealed: number;
  /** Late-packet step backs and delay trims per mixed source per minute. */
  stepsPerMin: number;
  trimsPerMin: number;
}

/** Runs `groups` bridges of `size` legs (size 2: relayed; more: everyone mixed), measured over the window. */
async function scenario(label: string, groups: number, size: number): Promise<Result> {
  const engine = new LocalMediaEngine({ bindAddress: '127.0.0.1' });
  const n = groups * size;
  const { ports } = await ask<{ ports: number[] }>({ open: n });
  const starts: Array<{ port: number; to: number }> = [];
  const eps: string[] = [];
  for (const port of ports) {
    const ep = await engine.createEndpoint('rtp');
    const answer = await engine.answer(ep, offer(port), 'PCMU');
    starts.push({ port, to: Number(/m=audio (\d+)/.exec(answer)![1]) });
    eps.push(ep);
  }
  for (let g = 0; g < groups; g++) {
    const members = eps.slice(g * size, (g + 1) * size);
    const bridge: BridgeMember[] = members.map((e) => ({ endpoint: e, hears: members.filter((x) => x !== e) }));
    await engine.setBridge(`b${g}`, bridge);
  }
  await ask({ start: starts });
  await new Promise((r) => setTimeout(r, 1500)); // warm-up: JIT, jitter buffers filled
  await ask({ measure: true });
  const before = await engine.stats();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const report = await ask<{ legs: Array<{ received: number; gaps: number[] }> }>({ report: true });
  const after = await engine.stats();
  await ask({ reset: true });
  await engine.close();
  const expected = (wall / 20) * report.legs.length;
  const window = (after.mixing?.latencyBuckets ?? []).map((c, i) => c - (before.mixing?.latencyBuckets[i] ?? 0));
  const received = report.legs.reduce((s, l) => s + l.received, 0);
  const gaps = report.legs.map((l) => l.gaps[1]!).sort((a, b) => a - b);
  return {
    label,
    legs: n,
    groups,
    cpu: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    lossPct: Math.max(0, (1 - received / expected) * 100),
    latencyP50: percentile(window, 0.5),
    latencyP99: percentile(window, 0.99),
    jitterP99: Math.max(0, (gaps[Math.floor(gaps.length * 0.99)] ?? 20) - 20),
    concealed: (after.mixing?.concealed ?? 0) - (before.mixing?.concealed ?? 0),
    stepsPerMin: size > 2 ? (((after.mixing?.underruns ?? 0) - (before.mixing?.underruns ?? 0)) / n) * (60_000 / wall) : 0,
    trimsPerMin: size > 2 ? (((after.mixing?.dropped ?? 0) - (before.mixing?.dropped ?? 0)) / n) * (60_000 / wall) : 0,
  };
}

/** The `p` quantile (ms) of a histogram of 0.5 ms buckets; 0 when it is empty. */
function percentile(buckets: number[], p: number): number {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (!total) return 0;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!;
    if (seen >= total * p) return (i + 1) / 2;
  }
  return buckets.length / 2;
}

function row(r: Result, size: number): string {
  const cells = [
    r.label.padEnd(26),
    String(r.legs).padStart(5),
    `${r.cpu.toFixed(1)} %`.padStart(9),
    `${(r.cpu / r.legs).toFixed(3)} %`.padStart(11),
    `${(r.cpu / r.groups).toFixed(2)} %`.padStart(10),
    `${r.lossPct.toFixed(2)} %`.padStart(8),
    r.latencyP99 ? `${r.latencyP50.toFixed(1)} / ${r.latencyP99.toFixed(1)} ms`.padStart(16) : '(relay)'.padStart(16),
    `${r.jitterP99.toFixed(1)} ms`.padStart(9),
    size > 2 ? `${r.stepsPerMin.toFixed(1)} / ${r.trimsPerMin.toFixed(1)}`.padStart(13) : ''.padStart(13),
  ];
  return cells.join('  ');
}

async function main(): Promise<void> {
  console.log(`media engine, ${SECONDS} s per step; CPU is % of one core for the engine's process${pinned ? ' (engine on core 0, load on core 1)' : ' (engine and load share the cores)'}\n`);
  console.log(['scenario'.padEnd(26), 'legs'.padStart(5), 'CPU'.padStart(9), 'per leg'.padStart(11), 'per call'.padStart(10), 'loss'.padStart(8), 'latency p50/p99'.padStart(16), 'jitter'.padStart(9), 'late/trim /min'.padStart(13)].join('  '));
  const relay = await scenario('relay: 2-party × 50', 50, 2);
  console.log(row(relay, 2));
  const perRelayed = relay.cpu / relay.legs;
  const mixed: Result[] = [];
  for (const [size, groups] of [[3, 20], [5, 12], [10, 6]] as const) {
    const r = await scenario(`mix: ${size}-party × ${groups}`, groups, size);
    mixed.push(r);
    console.log(row(r, size));
  }
  console.log('\nconferences of 5 until the engine passes 80 % of a core:');
  let fit: Result | undefined;
  const scaled: Result[] = [];
  for (let groups = 10; groups <= 200; groups += 10) {
    const r = await scenario(`mix: 5-party × ${groups}`, groups, 5);
    console.log(row(r, 5));
    scaled.push(r);
    if (r.cpu > 80 || r.lossPct > 0.5) {
      if (r.cpu <= 80) console.log(`  loss ${r.lossPct.toFixed(2)} % before 80 % of a core`);
      break;
    }
    fit = r;
  }
  const worstMixed = Math.max(...mixed.map((r) => r.cpu / r.legs));
  const underLoad = [...mixed, ...scaled.filter((r) => r.cpu <= 80)];
  const worstP99 = Math.max(...underLoad.map((r) => r.latencyP99));
  console.log(`\nbudget: a mixed party costs ${(worstMixed / perRelayed).toFixed(2)}× a relayed leg (≤ 2×): ${worstMixed <= 2 * perRelayed ? 'met' : 'NOT met'}`);
  console.log(`budget: mixing adds ${worstP99.toFixed(1)} ms p99 at worst, every step up to 80 % of a core (≤ 40 ms): ${worstP99 <= 40 ? 'met' : 'NOT met'}`);
  if (fit) console.log(`budget: ${fit.groups} conferences of 5 (${fit.legs} mixed parties) at ${fit.cpu.toFixed(0)} % of a core with ${fit.lossPct.toFixed(2)} % loss (no loss up to 80 %): ${fit.lossPct < 0.05 ? 'met' : 'NOT met'}; extrapolated to a full core: ${Math.floor((100 / fit.cpu) * fit.groups)} conferences`);
  load.kill();
}

main().catch((err) => {
  console.error(err);
  load.kill();
  process.exit(1);
});
