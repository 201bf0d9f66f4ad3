/**
 * `npm run bench:media`: the media engines side by side under the same load (issue 16,
 * docs/media.md). For each engine a gateway process (the built CLI) and, for rtpengine, an
 * rtpengine process; `kamailio` is the reference without a gateway: Kamailio relays the calls and
 * rtpengine anchors their media (bench/kamailio-anchor.cfg). The load is bench/webrtc-load.ts
 * (werift WebRTC calls over SIP WebSockets, PCMU 20 ms) or, with `--client rtpengine`,
 * bench/rtpengine-load.ts (the WebRTC end in a second rtpengine, plain RTP from Node; lighter,
 * for more calls) to a sipp UAS that echoes RTP, so every call is a bridged WebRTC↔RTP call. At
 * each step N concurrent calls: CPU of the server processes (gateway or Kamailio + rtpengine,
 * from /proc, over a 10 s window) per call, loss and round-trip time of the echoed packets, setup
 * time (INVITE → 200 OK at the client, and at the gateway from its log), the load client's CPU.
 *
 * Run it inside a network namespace with only loopback, like the tests (TESTBED.md):
 *   ip netns exec sbdev npm run bench:media [-- --steps 25,50,100 --engines kamailio,rtpengine-direct,rtpengine,werift --client werift --threads]
 * Needs `npm run build` first (it runs gateway/dist/cli.js); `kamailio` needs Debian's
 * kamailio-websocket-modules.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const ROOT = path.resolve(import.meta.dirname, '..');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const STEPS = arg('steps', '25,50,100').split(',').map(Number);
/** `rtpengine-direct`: rtpengine with `media.rtpengineDirect` (two-party calls relayed peer to peer). */
/** `kamailio`: the reference, no gateway — Kamailio + rtpengine as a media anchor (bench/kamailio-anchor.cfg; needs kamailio-websocket-modules). */
type Engine = 'werift' | 'rtpengine' | 'rtpengine-direct' | 'kamailio';
const ENGINES = arg('engines', 'werift,rtpengine,rtpengine-direct').split(',') as Engine[];
/**
 * `--client werift` (default): werift WebRTC calls in Node (bench/webrtc-load.ts); `--client
 * rtpengine`: the WebRTC end of each call in a second rtpengine, plain RTP from Node
 * (bench/rtpengine-load.ts) — light enough for a few hundred calls on the same two cores.
 */
const CLIENT = arg('client', 'werift');
// With the Kamailio reference the rtpengine client's run stalled before its first step (not
// diagnosed yet); it is measured against the gateway's engines only.
if (CLIENT === 'rtpengine' && ENGINES.includes('kamailio')) throw new Error('--client rtpengine does not run against the kamailio reference yet (its run stalled; see docs/media.md); use --client werift for it');
/** `--threads`: print rtpengine's CPU by thread for each step. */
const THREADS = process.argv.includes('--threads');
const WINDOW_MS = Number(arg('window', '10')) * 1000;
const CLK_TCK = 100;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** utime + stime of a process and all its threads, in clock ticks. */
function cpuTicks(pid: number | string): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** CPU ticks of a process and all its descendants (Kamailio works in forked children). */
function treeTicks(pid: number): number {
  let kids: number[] = [];
  try {
    kids = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return 0;
  }
  return cpuTicks(pid) + kids.reduce((sum, k) => sum + treeTicks(k), 0);
}

async function waitPort(port: number, proc: ChildProcess, out: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`exited:\n${out().slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port}:\n${out().slice(-2000)}`);
}

/** CPU ticks of each thread of `pid`, by thread name (rtpengine names its poller, timer and control threads). */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      out.set(name, (out.get(name) ?? 0) + cpuTicks(`${pid}/task/${t}`));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

const pct = (a: number[], p: number) => (a.length ? [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((a.length * p) / 100))]! : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lines(proc: ChildProcess): () => Promise<Record<string, unknown>> {
  const queue: Array<Record<string, unknown>> = [];
  const waiters: Array<(v: Record<string, unknown>) => void> = [];
  readline.createInterface({ input: proc.stdout! }).on('line', (l) => {
    const v = JSON.parse(l) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(v);
    else queue.push(v);
  });
  return () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
}

async function waitHttp(url: string, proc: ChildProcess, out: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`gateway exited:\n${out().slice(-2000)}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`gateway did not start:\n${out().slice(-2000)}`);
}

/**
 * First audio in a real browser: Chromium (our SDK, the demo page served by the gateway) calls
 * the sipp echo 5 times; for each, the time from the call being connected (the 200 OK taken) to
 * the first echoed audio above -40 dBFS on the remote stream. Returns the times (ms).
 */
async function firstAudioInChromium(httpUrl: string): Promise<number[]> {
  const { launchAgent, loginDemo } = await import('../test/support/browser.js');
  const agent = await launchAgent(httpUrl, 700);
  try {
    await loginDemo(agent.page, 'alice', 'alice-demo');
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      times.push(
        await agent.page.evaluate(async () => {
          const call = await window.demo.phone!.dial('7000');
          const connectedAt = await new Promise<number>((resolve) => call.on('stateChanged', (s) => s === 'connected' && resolve(performance.now())));
          const deadline = performance.now() + 5000;
          while (!call.remoteStream?.getAudioTracks().length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
          const ctx = new AudioContext();
          await ctx.resume();
          const an = ctx.createAnalyser();
          an.fftSize = 128;
          ctx.createMediaStreamSource(call.remoteStream!).connect(an);
          const buf = new Float32Array(an.fftSize);
          let heardAt = NaN;
          while (performance.now() < deadline) {
            an.getFloatTimeDomainData(buf);
            let e = 0;
            for (const v of buf) e += v * v;
            if (20 * Math.log10(Math.sqrt(e / buf.length) || 1e-9) > -40) {
              heardAt = performance.now();
              break;
            }
            await new Promise((r) => setTimeout(r, 1));
          }
          await ctx.close();
          await call.hangup();
          return heardAt - connectedAt;
        }),
      );
      await sleep(300);
    }
    return times;
  } finally {
    await agent.close();
  }
}

interface Row { engine: string; calls: number; cpuPerCall: number; gatewayPct: number; rtpenginePct: number; lossPct: number; rttP50: number; rttP99: number; setupP50: number; setupP95: number; gwSetupP50: number; gwSetupP95: number; failed: number }

async function runEngine(engine: Engine): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sb-bench-media-${engine}-`));
  const procs: ChildProcess[] = [];
  try {
    const [httpPort, sipPort, uasPort, uasMedia, ngPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const uas = spawn('sipp', ['-sf', path.join(ROOT, 'bench', 'uas-echo.xml'), '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-mp', String(uasMedia), '-rtp_echo', '-t', 'u1', '-nostdin'], { stdio: 'ignore', detached: false });
    procs.push(uas);
    let rtpengine: ChildProcess | undefined;
    if (engine !== 'werift') {
      rtpengine = spawn('rtpengine', ['--config-file=none', '--foreground', '--table=-1', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ngPort}`, '--port-min=40000', '--port-max=44999', '--log-stderr', '--log-level=4', '--num-threads=2', '--delete-delay=0'], { stdio: 'ignore' });
      procs.push(rtpengine);
      await sleep(500);
    }
    let gw: ChildProcess;
    /** The gateway's log so far (each call logs where its setup time went). */
    let frontLog = () => '';
    let wsUrl: string;
    if (engine === 'kamailio') {
      // The reference: Kamailio relays the WebSocket calls to the echo, rtpengine anchors the media.
      const cfg = readFileSync(path.join(ROOT, 'bench', 'kamailio-anchor.cfg'), 'utf8').replaceAll('%SIPPORT%', String(sipPort)).replaceAll('%WSPORT%', String(httpPort)).replaceAll('%UASPORT%', String(uasPort)).replaceAll('%NGPORT%', String(ngPort));
      writeFileSync(path.join(dir, 'kamailio.cfg'), cfg);
      let out = '';
      gw = spawn('kamailio', ['-f', path.join(dir, 'kamailio.cfg'), '-DD', '-E', '-m', '64', '-M', '16', '-Y', dir, '-P', path.join(dir, 'kamailio.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(gw);
      gw.stdout!.on('data', (d) => (out += d));
      gw.stderr!.on('data', (d) => (out += d));
      await waitPort(httpPort, gw, () => out);
      wsUrl = `ws://127.0.0.1:${httpPort}/`;
    } else {
      const config = {
        host: '127.0.0.1',
        http: { port: httpPort },
        sip: { udpPort: sipPort, tcpPort: sipPort },
        auth: { tokenSecret: 'bench-media-secret-0123456789' },
        protection: { trustedAddresses: ['127.0.0.1'] },
        users: [
          { username: 'load', password: 'bench-load-pw', role: 'agent' },
          { username: 'alice', password: 'alice-demo', role: 'agent', extension: '1001' },
          { username: 'echo', password: 'bench-echo-pw', role: 'agent', extension: '7000', staticContact: `sip:echo@127.0.0.1:${uasPort}` },
        ],
        calls: { probeIntervalSeconds: 0 },
        center: { database: ':memory:' },
        media: engine === 'werift' ? { engine } : { engine: 'rtpengine', rtpengine: [`127.0.0.1:${ngPort}`], rtpengineDirect: engine === 'rtpengine-direct' },
      };
      writeFileSync(path.join(dir, 'gateway.json'), JSON.stringify(config));
      let gwOut = '';
      gw = spawn(process.execPath, [path.join(ROOT, 'gateway', 'dist', 'cli.js'), '--config', path.join(dir, 'gateway.json')], { env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'info', SWITCHBOARD_LOG_FORMAT: 'text' }, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(gw);
      gw.stdout!.on('data', (d) => (gwOut += d));
      gw.stderr!.on('data', (d) => (gwOut += d));
      frontLog = () => gwOut;
      const base = `http://127.0.0.1:${httpPort}`;
      await waitHttp(`${base}/api/health`, gw, () => gwOut);
      // BENCH_GATEWAY_LOG=<file>: the gateway's info log (each call's setup timings, among others).
      const logFile = process.env.BENCH_GATEWAY_LOG;
      if (logFile) {
        writeFileSync(logFile, gwOut);
        gw.stdout!.on('data', (d) => appendFileSync(logFile, d));
        gw.stderr!.on('data', (d) => appendFileSync(logFile, d));
      }
      const audio = await firstAudioInChromium(`${base}/`);
      console.log(`${engine.padEnd(9)} first audio after the 200 OK in Chromium (5 calls to the echo): ${audio.map((t) => t.toFixed(0)).join(', ')} ms — p50 ${pct(audio, 50).toFixed(0)} ms`);
      firstAudio[engine] = audio;
      const { token } = (await (await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'load', password: 'bench-load-pw' }) })).json()) as { token: string };
      wsUrl = `ws://127.0.0.1:${httpPort}/sip?access_token=${token}`;
    }

    const load = CLIENT === 'rtpengine'
      ? spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'rtpengine-load.ts')], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LOAD_NG_PORT: String(await freePort()) } })
      : spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'webrtc-load.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
    procs.push(load);
    const next = lines(load);
    const send = (o: unknown) => load.stdin!.write(JSON.stringify(o) + '\n');
    const rows: Row[] = [];
    let up = 0;
    // The rtpengine client's own rtpengine is part of the load, not of the system measured.
    let loadPids = [load.pid!];
    if (CLIENT === 'rtpengine') {
      send({ pid: true });
      loadPids = [load.pid!, ((await next()) as { pid: number }).pid];
    }
    for (const n of STEPS) {
      const logMark = frontLog().length;
      send({ call: { n: n - up, ws: wsUrl, target: '7000', host: '127.0.0.1', rate: 20 } });
      const placed = (await next()) as { placed: number; failed: number; setupMs: number[] };
      up += placed.placed;
      // The gateway's own share of the setup: INVITE in to 200 OK out, as it logged each call.
      const setupLines = frontLog().slice(logMark);
      const atGateway = [...setupLines.matchAll(/INVITE to 200 OK ([\d.]+) ms/g)].map((m) => Number(m[1]));
      // Where the gateway's share goes (p50 / p95 of each step it logs).
      const phases = (['callee offer', 'caller answer after callee 200', 'bridge'] as const).map((name) => {
        const ms = [...setupLines.matchAll(new RegExp(`${name} ([\\d.]+) ms`, 'g'))].map((m) => Number(m[1]));
        return ms.length ? `${name} ${pct(ms, 50).toFixed(1)} / ${pct(ms, 95).toFixed(1)} ms` : undefined;
      }).filter(Boolean);
      await sleep(3000);
      send({ states: true });
      const { states } = (await next()) as { states: Record<string, number> };
      if ((states.connected ?? 0) < up) console.log(`  (WebRTC connection states of the load calls: ${JSON.stringify(states)})`);
      send({ measure: true });
      const ticks0 = treeTicks(gw.pid!) + (rtpengine ? cpuTicks(rtpengine.pid!) : 0);
      const gw0 = treeTicks(gw.pid!);
      const load0 = loadPids.reduce((t, p) => t + cpuTicks(p), 0);
      const threads0 = THREADS && rtpengine ? threadTicks(rtpengine.pid!) : undefined;
      const t0 = performance.now();
      await sleep(WINDOW_MS);
      const secs = (performance.now() - t0) / 1000;
      const gwPct = ((treeTicks(gw.pid!) - gw0) / CLK_TCK / secs) * 100;
      const loadPct = ((loadPids.reduce((t, p) => t + cpuTicks(p), 0) - load0) / CLK_TCK / secs) * 100;
      const allPct = ((treeTicks(gw.pid!) + (rtpengine ? cpuTicks(rtpengine.pid!) : 0) - ticks0) / CLK_TCK / secs) * 100;
      if (threads0) {
        const now = threadTicks(rtpengine!.pid!);
        const by = [...now].map(([name, t]) => `${name} ${(((t - (threads0.get(name) ?? 0)) / CLK_TCK / secs) * 100).toFixed(1)} %`);
        console.log(`  rtpengine threads: ${by.join(', ')}`);
      }
      send({ report: true });
      const r = (await next()) as { sent: number; received: number; silent: string[]; rttMs: number[] };
      if (r.silent.length && engine !== 'kamailio') {
        const h = (await (await fetch(`http://127.0.0.1:${httpPort}/api/health`)).json()) as { media?: { packetsDroppedUnverified?: number; endpoints?: number } };
        console.log(`  (${r.silent.length} calls got nothing back: ${r.silent.slice(0, 5).join(', ')}; the worker dropped ${h.media?.packetsDroppedUnverified} packets from unexpected sources)`);
      }
      if (r.silent.length && engine !== 'werift') {
        // Which hop is silent: rtpengine's packet counters for every stream of its calls.
        const { NgClient } = await import('../gateway/src/media/rtpengine/ng.js');
        const ng = new NgClient(`127.0.0.1:${ngPort}`);
        const list = (await ng.request('list', { limit: 1000 })) as { calls?: string[] };
        for (const id of list.calls ?? []) {
          const q = (await ng.request('query', { 'call-id': id })) as { tags?: Record<string, { medias?: Array<{ streams?: Array<{ endpoint?: { port?: number }; 'advertised endpoint'?: { port?: number }; 'local port'?: number; stats?: { packets?: number } }> }> }> };
          const streams = Object.entries(q.tags ?? {}).flatMap(([tag, t]) => (t.medias ?? []).flatMap((m) => (m.streams ?? []).map((st) => ({ tag, local: st['local port'], peer: st.endpoint?.port, packets: st.stats?.packets ?? 0 }))));
          if (streams.some((x) => x.packets === 0 && x.local && x.local % 2 === 0)) console.log(`  rtpengine ${id}: ${streams.map((x) => `${x.tag} local ${x.local} peer ${x.peer} packets ${x.packets}`).join(' | ')}`);
        }
        ng.close();
      }
      if (r.silent.length && process.env.BENCH_PAUSE) {
        console.log(`  paused for inspection: rtpengine ng 127.0.0.1:${ngPort}, front http/ws port ${httpPort}`);
        await sleep(Number(process.env.BENCH_PAUSE) * 1000);
      }
      const row: Row = {
        engine, calls: up, cpuPerCall: allPct / up, gatewayPct: gwPct, rtpenginePct: allPct - gwPct,
        lossPct: r.sent ? Math.max(0, (1 - r.received / r.sent) * 100) : NaN, rttP50: pct(r.rttMs, 50), rttP99: pct(r.rttMs, 99),
        setupP50: pct(placed.setupMs, 50), setupP95: pct(placed.setupMs, 95), gwSetupP50: pct(atGateway, 50), gwSetupP95: pct(atGateway, 95), failed: placed.failed,
      };
      rows.push(row);
      console.log(`${engine.padEnd(9)} ${String(up).padStart(4)} calls: ${row.cpuPerCall.toFixed(3)} % core/call (gateway ${gwPct.toFixed(1)} %, rtpengine ${row.rtpenginePct.toFixed(1)} %), loss ${row.lossPct.toFixed(2)} %, RTT p50 ${row.rttP50.toFixed(1)} / p99 ${row.rttP99.toFixed(1)} ms, setup p50 ${row.setupP50.toFixed(0)} / p95 ${row.setupP95.toFixed(0)} ms (at the gateway ${row.gwSetupP50.toFixed(1)} / ${row.gwSetupP95.toFixed(1)} ms)${placed.failed ? `, ${placed.failed} failed` : ''}; load client ${loadPct.toFixed(0)} % of a core`);
      if (phases.length) console.log(`${' '.repeat(9)} at the gateway, p50 / p95: ${phases.join(', ')}`);
    }
    send({ hangup: true });
    await next();
    send({ exit: true });
    return rows;
  } finally {
    for (const p of procs.reverse()) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const firstAudio: Record<string, number[]> = {};

async function main(): Promise<void> {
  const all: Row[] = [];
  for (const e of ENGINES) all.push(...(await runEngine(e)));
  console.log('\n| engine | calls | % core per call (gateway + rtpengine) | loss | RTT p50 / p99 | setup p50 / p95 (at the gateway) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of all) console.log(`| ${r.engine} | ${r.calls} | ${r.cpuPerCall.toFixed(3)} (${r.gatewayPct.toFixed(1)} + ${r.rtpenginePct.toFixed(1)} % total) | ${r.lossPct.toFixed(2)} % | ${r.rttP50.toFixed(1)} / ${r.rttP99.toFixed(1)} ms | ${r.setupP50.toFixed(0)} / ${r.setupP95.toFixed(0)} ms${Number.isNaN(r.gwSetupP50) ? '' : ` (${r.gwSetupP50.toFixed(1)} / ${r.gwSetupP95.toFixed(1)})`} |`);
  for (const [e, t] of Object.entries(firstAudio)) console.log(`first audio after the 200 OK, ${e}: p50 ${pct(t, 50).toFixed(0)} ms (max ${Math.max(...t).toFixed(0)} ms)`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
