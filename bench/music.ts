/**
 * Music to waiting callers: the cost of N callers on hold / in queues, each getting a 20 ms
 * G.711 packet 50 times a second from the media engine (the same code the worker thread runs).
 *
 *   npm run bench:music [-- 500]      (node --import tsx bench/music.ts [callers])
 *
 * N plain-RTP endpoints are answered toward one UDP sink (a separate process, so receiving is not
 * billed to the engine) and put on hold; after a warm-up the engine's CPU time and the sink's
 * packet count are measured over 5 s. Prints CPU % of one core, packets/s delivered against the
 * 50 × N due, and the spread of inter-packet gaps of one caller.
 */
import { spawn } from 'node:child_process';
import { LocalMediaEngine } from '../gateway/src/media/engine.js';
import { setLogSink } from '../gateway/src/util/log.js';

setLogSink(() => undefined);
const N = Number(process.argv[2] ?? 500);
const SECONDS = 5;

async function main(): Promise<void> {
  // The sink: counts packets, and the gaps between packets from one source port.
  // One sink socket per 100 callers: a single socket's receive buffer would overflow on the
  // ticker's burst and count the bench's own drops.
  const sockets = Math.ceil(N / 100);
  const sinkCode = `
    const dgram = require('node:dgram');
    let n = 0, watch = 0, last = 0; const gaps = []; const ports = [];
    for (let i = 0; i < ${sockets}; i++) {
      const s = dgram.createSocket('udp4');
      s.on('message', (m, r) => { n++; if (r.port === watch) { const t = performance.now(); if (last) gaps.push(t - last); last = t; } });
      s.bind(0, '127.0.0.1', () => { ports.push(s.address().port); if (ports.length === ${sockets}) process.stdout.write(JSON.stringify({ ports }) + '\\n'); });
    }
    process.stdin.on('data', (d) => {
      const cmd = JSON.parse(String(d));
      if (cmd.watch) { watch = cmd.watch; n = 0; gaps.length = 0; last = 0; process.stdout.write('{}\\n'); }
      if (cmd.report) { process.stdout.write(JSON.stringify({ n, gaps }) + '\\n'); process.exit(0); }
    });`;
  const sink = spawn(process.execPath, ['-e', sinkCode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  const waiters: Array<(l: string) => void> = [];
  sink.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const nextLine = () => new Promise<string>((r) => (lines.length ? r(lines.shift()!) : waiters.push(r)));
  const sinkPorts = (JSON.parse(await nextLine()) as { ports: number[] }).ports;
  let watchedPort = 0;

  const engine = new LocalMediaEngine({ bindAddress: '127.0.0.1' });
  const offer = (port: number) => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    const id = await engine.createEndpoint('rtp');
    const answer = await engine.answer(id, offer(sinkPorts[i % sinkPorts.length]!), 'PCMU');
    if (i === 0) watchedPort = Number(/m=audio (\d+)/.exec(answer)![1]);
    await engine.setBridge(`music-${i}`, [{ endpoint: id, hears: [], music: '' }]);
    ids.push(id);
  }
  await new Promise((r) => setTimeout(r, 1000));
  sink.stdin!.write(JSON.stringify({ watch: watchedPort }) + '\n');
  await nextLine();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  sink.stdin!.write(JSON.stringify({ report: true }) + '\n');
  const report = JSON.parse(await nextLine()) as { n: number; gaps: number[] };
  const got = report.n;
  const gaps = [...report.gaps].sort((a, b) => a - b);
  const pct = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * p))]!.toFixed(1);
  console.log(`${N} callers on music: CPU ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(1)} % of one core; ` +
    `${Math.round((got / wall) * 1000)} packets/s delivered of ${N * 50} due; one caller's gaps p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${gaps.at(-1)!.toFixed(1)} ms`);
  for (const id of ids) await engine.closeEndpoint(id);
  await engine.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
