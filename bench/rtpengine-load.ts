/**
 * A lighter load side for bench/media.ts (`--client rtpengine`), for call counts the werift
 * client cannot reach on two cores (it needs ~0.65 % of a core per call for SRTP and ICE in
 * Node, and saturates near 150 calls): the WebRTC end of each call — ICE, DTLS-SRTP, rtcp-mux —
 * is a second rtpengine, the client's own (started here, its CPU reported apart), and Node only
 * sends and receives plain RTP through it. To the gateway each call is what a browser's is: a
 * SIP WebSocket with an access token, an offer with ICE candidates, a DTLS fingerprint
 * (`actpass`), rtcp-mux and a=mid, then DTLS-SRTP on the wire.
 *
 * Per call: a UDP socket (the "microphone"); ng `offer` to the client rtpengine with its plain
 * SDP, turned into a WebRTC offer for the INVITE; the gateway's 200 OK answer through ng `answer`,
 * which gives the port the socket sends to. Every packet's payload carries its send time, the
 * far end (sipp -rtp_echo) sends it back, so loss and round trip cover the whole path.
 *
 * Same JSON-lines protocol as bench/webrtc-load.ts; `{pid: true}` → `{pid}` of the client's
 * rtpengine (its CPU is the load's, not the system's).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { openSync } from 'node:fs';
import readline from 'node:readline';
import WebSocket from 'ws';
import { invite, tok } from './load-sip.js';
import { NgClient } from '../gateway/src/media/rtpengine/ng.js';

const NG_PORT = Number(process.env.LOAD_NG_PORT ?? 0);
const rtpengine = spawn('rtpengine', ['--config-file=none', '--foreground', '--table=-1', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_PORT}`, '--port-min=50000', '--port-max=59999', '--log-stderr', '--log-level=4', '--num-threads=2', '--delete-delay=0', '--timeout=600'], { stdio: ['ignore', 'ignore', process.env.LOAD_RTPENGINE_LOG ? openSync(process.env.LOAD_RTPENGINE_LOG, 'w') : 'ignore'] });
process.on('exit', () => rtpengine.kill('SIGKILL'));
const ng = new NgClient(`127.0.0.1:${NG_PORT}`, { retransmitMs: 1000, attempts: 3 });

interface LoadCall {
  ws: WebSocket;
  sock: dgram.Socket;
  to: number;
  callId: string;
  fromTag: string;
  toTag?: string;
  contact?: string;
  seq: number;
  ts: number;
  ssrc: number;
  received: number;
  connected: boolean;
}

const calls: LoadCall[] = [];
let sent = 0;
let received = 0;
let rtts: number[] = [];
const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const WEBRTC = { ICE: 'force', 'transport-protocol': 'UDP/TLS/RTP/SAVPF', 'rtcp-mux': ['offer', 'require'], flags: ['generate-mid'], SDES: ['off'] };
const PLAIN = { ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'], DTLS: 'off', SDES: ['off'] };


async function place(wsUrl: string, target: string, host: string): Promise<number> {
  const ws = new WebSocket(wsUrl, 'sip');
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const c: LoadCall = { ws, sock, to: 0, callId: `${tok()}@load`, fromTag: tok(), seq: 0, ts: 0, ssrc: randomBytes(4).readUInt32BE(), received: 0, connected: false };
  sock.on('message', (m) => {
    // Only the echo of our own packets (PCMU, our size); rtpengine may send RTCP here too.
    if (m.length !== packet.length || (m[1]! & 0x7f) !== 0) return;
    received++;
    c.received++;
    rtts.push(performance.now() - m.readDoubleBE(12));
  });
  const plain = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${sock.address().port} RTP/AVP 0 126\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\n`;
  const offer = (await ng.request('offer', { 'call-id': c.callId, 'from-tag': c.fromTag, sdp: plain, ...WEBRTC })) as { sdp: Buffer | string };
  const sdp = String(offer.sdp);
  const placed = await invite(ws, { target, host, callId: c.callId, fromTag: c.fromTag, sdp });
  c.toTag = placed.toTag;
  c.contact = placed.contact;
  const { answer, setupMs } = placed;
  const ans = (await ng.request('answer', { 'call-id': c.callId, 'from-tag': c.fromTag, 'to-tag': c.toTag ?? 'b', sdp: answer, ...PLAIN })) as { sdp: Buffer | string };
  c.to = Number(/^m=audio (\d+)/m.exec(String(ans.sdp))![1]);
  c.connected = true;
  calls.push(c);
  return setupMs;
}

// 50 packets a second per call on a 20 ms grid; payload: 12-byte RTP header, then the send time.
const packet = Buffer.alloc(12 + 160, 0xff);
const t0 = performance.now();
let ticks = 0;
function tick(): void {
  const due = Math.floor((performance.now() - t0) / 20) + 1;
  for (; ticks < due; ticks++) {
    for (const c of calls) {
      packet[0] = 0x80;
      packet[1] = 0;
      packet.writeUInt16BE((c.seq = (c.seq + 1) & 0xffff), 2);
      packet.writeUInt32BE((c.ts = (c.ts + 160) >>> 0), 4);
      packet.writeUInt32BE(c.ssrc, 8);
      packet.writeDoubleBE(performance.now(), 12);
      c.sock.send(packet, c.to, '127.0.0.1');
      sent++;
    }
  }
  setTimeout(tick, Math.max(1, t0 + (ticks + 1) * 20 - performance.now()));
}
tick();

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as { call?: { n: number; ws: string; target: string; host: string; rate: number }; pid?: true; states?: true; measure?: true; report?: true; exit?: true };
  if (m.call) {
    const { n, ws, target, host, rate } = m.call;
    void (async () => {
      const setupMs: number[] = [];
      let failed = 0;
      const pending: Array<Promise<void>> = [];
      for (let i = 0; i < n; i++) {
        pending.push(place(ws, target, host).then((ms) => void setupMs.push(ms), (err: Error) => {
          failed++;
          if (failed <= 3) process.stderr.write(`load: call failed: ${err.message}\n`);
        }));
        await new Promise((r) => setTimeout(r, 1000 / rate));
      }
      await Promise.all(pending);
      reply({ placed: setupMs.length, failed, setupMs });
    })();
  } else if (m.pid) {
    reply({ pid: rtpengine.pid });
  } else if (m.measure) {
    sent = 0;
    received = 0;
    rtts = [];
    for (const c of calls) c.received = 0;
  } else if (m.states) {
    reply({ states: { connected: calls.filter((c) => c.connected).length } });
  } else if (m.report) {
    reply({ sent, received, silent: calls.filter((c) => c.received === 0).map((c) => c.callId), rttMs: rtts.sort((a, b) => a - b).filter((_, i, a) => i % Math.max(1, Math.floor(a.length / 2000)) === 0) });
  } else if (m.exit) {
    process.exit(0);
  }
});
