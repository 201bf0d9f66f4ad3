/**
 * The load side of bench/mixer.ts, in its own process so its CPU is not billed to the media
 * engine: N plain-RTP legs, each a UDP socket that sends a pre-encoded 20 ms PCMU packet 50 times
 * a second (paced by the wall clock, its own SSRC and sequence) and counts what it receives —
 * packets, and the gaps between them (jitter of what the engine sends).
 *
 * Protocol (JSON lines): stdin `{open: n}` → stdout `{ports: [...]}`; `{start: [{port, to}]}`
 * starts leg `port` sending to engine port `to`; `{measure: true}` resets counters; `{report: true}`
 * → `{legs: [{received, gaps:[p50, p99, max]}], sent}`; `{reset: true}` closes every leg; `{exit: true}`.
 */
import dgram from 'node:dgram';
import readline from 'node:readline';

const legs = new Map();
let sent = 0;
const payload = Buffer.alloc(160, 0xff); // PCMU silence-ish; the engine does not care what it mixes
let ticker;

function reply(o) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

async function open(n) {
  const ports = [];
  for (let i = 0; i < n; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, '127.0.0.1', r));
    const leg = { s, to: 0, seq: (Math.random() * 60000) | 0, ts: (Math.random() * 1e9) >>> 0, ssrc: (Math.random() * 0xffffffff) >>> 0, received: 0, last: 0, gaps: [] };
    s.on('message', () => {
      const t = performance.now();
      leg.received++;
      if (leg.last) leg.gaps.push(t - leg.last);
      leg.last = t;
    });
    legs.set(s.address().port, leg);
    ports.push(s.address().port);
  }
  return ports;
}

function startTicker() {
  if (ticker) return;
  const t0 = performance.now();
  let n = 0;
  // Paced like a phone's audio clock: each wake-up aims at the next 20 ms point from t0 (an
  // interval drifts later under load, sending late and then two packets back to back).
  const wake = () => {
    const due = Math.floor((performance.now() - t0) / 20) + 1;
    for (; n < due; n++) {
      for (const leg of legs.values()) {
        if (!leg.to) continue;
        const p = Buffer.allocUnsafe(172);
        p[0] = 0x80;
        p[1] = 0;
        p.writeUInt16BE(leg.seq, 2);
        p.writeUInt32BE(leg.ts, 4);
        p.writeUInt32BE(leg.ssrc, 8);
        payload.copy(p, 12);
        leg.seq = (leg.seq + 1) & 0xffff;
        leg.ts = (leg.ts + 160) >>> 0;
        leg.s.send(p, leg.to, '127.0.0.1');
        sent++;
      }
    }
    ticker = setTimeout(wake, Math.max(1, Math.ceil(t0 + n * 20 - performance.now())));
  };
  wake();
}

const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor(a.length * p))] : 0);

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const cmd = JSON.parse(line);
  if (cmd.open) reply({ ports: await open(cmd.open) });
  else if (cmd.start) {
    for (const { port, to } of cmd.start) legs.get(port).to = to;
    startTicker();
    reply({});
  } else if (cmd.measure) {
    for (const leg of legs.values()) {
      leg.received = 0;
      leg.gaps = [];
      leg.last = 0;
    }
    sent = 0;
    reply({});
  } else if (cmd.report) {
    reply({
      sent,
      legs: [...legs.values()].filter((l) => l.to).map((l) => {
        const g = l.gaps.sort((a, b) => a - b);
        return { received: l.received, gaps: [pct(g, 0.5), pct(g, 0.99), g.at(-1) ?? 0] };
      }),
    });
  } else if (cmd.reset) {
    for (const leg of legs.values()) leg.s.close();
    legs.clear();
    reply({});
  } else if (cmd.exit) process.exit(0);
});
