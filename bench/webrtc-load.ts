/**
 * The load side of bench/media.ts, in its own process so its CPU is not billed to the servers:
 * N WebRTC calls from werift (ICE, DTLS-SRTP, PCMU 20 ms), each on its own SIP WebSocket with an
 * access token, the way browsers connect. Every call sends 50 packets a second whose payload
 * carries its send time; the far end (sipp with -rtp_echo) sends them back, so the client
 * measures loss and round-trip time of the whole path (client → gateway → sipp → gateway →
 * client), and the setup time from INVITE to 200 OK.
 *
 * Protocol (JSON lines): stdin `{call: {n, ws, target, rate}}` → `{placed, failed, setupMs: [...]}`;
 * `{measure: true}` resets counters; `{report: true}` → `{sent, received, rttMs: [...]}`;
 * `{hangup: true}` → BYE on every call → `{ended}`; `{exit: true}`.
 */
import { randomBytes } from 'node:crypto';
import readline from 'node:readline';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import WebSocket from 'ws';
import { invite, tok } from './load-sip.js';

interface LoadCall {
  ws: WebSocket;
  pc: RTCPeerConnection;
  track: MediaStreamTrack;
  callId: string;
  fromTag: string;
  toTag?: string;
  contact?: string;
  cseq: number;
  seq: number;
  ts: number;
  ssrc: number;
  /** Echoed packets received since the last `measure`. */
  received: number;
}

const calls: LoadCall[] = [];
let sent = 0;
let received = 0;
let rtts: number[] = [];
const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');



async function place(wsUrl: string, target: string, host: string): Promise<number> {
  const ws = new WebSocket(wsUrl, 'sip');
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const pc = new RTCPeerConnection({
    // PCMU and RFC 4733 telephone-event, as a browser offers them (Chromium: telephone-event/8000 on 126).
    codecs: { audio: [
      new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 }),
      new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, channels: 1, payloadType: 126 }),
    ] },
    headerExtensions: { audio: [] },
    iceUseIpv6: false,
    iceUseTcp: false,
    // werift leaves loopback out of its host candidates; the bench runs on loopback only.
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  const track = new MediaStreamTrack({ kind: 'audio' });
  pc.addTransceiver(track, { direction: 'sendrecv' });
  await pc.setLocalDescription(await pc.createOffer());
  // Non-trickle: the full offer once gathering is done (host candidates on loopback: at once).
  while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 5));
  const c: LoadCall = { ws, pc, track, callId: `${tok()}@load`, fromTag: tok(), cseq: 1, seq: 0, ts: 0, ssrc: randomBytes(4).readUInt32BE(), received: 0 };
  // Count what comes back at werift's RTP router (after SRTP): werift hands a track only packets
  // whose SSRC the answer announced, and rtpengine's answers carry no a=ssrc (TESTBED.md).
  const router = (pc as unknown as { router: { routeRtp: (rtp: RtpPacket) => void } }).router;
  router.routeRtp = (rtp) => {
    if (rtp.payload.length < 8) return;
    received++;
    c.received++;
    rtts.push(performance.now() - rtp.payload.readDoubleBE(0));
  };
  const sdp = pc.localDescription!.sdp;
  const placed = await invite(ws, { target, host, callId: c.callId, fromTag: c.fromTag, sdp });
  c.toTag = placed.toTag;
  c.contact = placed.contact;
  const { answer, setupMs } = placed;
  // werift 0.24 throws on the short `a=rtcp:PORT` form rtpengine writes (TESTBED.md); with
  // rtcp-mux it carries nothing.
  await pc.setRemoteDescription({ type: 'answer', sdp: answer.replace(/^a=rtcp:\d+\r?\n/gm, '') });
  calls.push(c);
  return setupMs;
}

function bye(c: LoadCall): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    c.ws.on('message', (d) => {
      if (/^SIP\/2\.0 200[\s\S]*CSeq:\s*2 BYE/i.test(d.toString())) (clearTimeout(timer), resolve());
    });
    c.ws.send([`BYE ${c.contact} SIP/2.0`, `Via: SIP/2.0/WS x.invalid;branch=z9hG4bK${tok()}`, 'Max-Forwards: 70', `From: <sip:load@x>;tag=${c.fromTag}`, `To: <sip:t@x>;tag=${c.toTag}`, `Call-ID: ${c.callId}`, 'CSeq: 2 BYE', 'Content-Length: 0', '', ''].join('\r\n'));
  }).then(() => {
    c.ws.close();
    return c.pc.close();
  });
}

// 50 packets a second per call, paced against the clock from t0 (not setInterval drift).
const payload = Buffer.alloc(160, 0xff);
const t0 = performance.now();
let ticks = 0;
function tick(): void {
  const due = Math.floor((performance.now() - t0) / 20) + 1;
  for (; ticks < due; ticks++) {
    for (const c of calls) {
      if (c.pc.connectionState !== 'connected') continue;
      payload.writeDoubleBE(performance.now(), 0);
      const h = new RtpHeader({ payloadType: 0, sequenceNumber: (c.seq = (c.seq + 1) & 0xffff), timestamp: (c.ts = (c.ts + 160) >>> 0), ssrc: c.ssrc, marker: false });
      c.track.writeRtp(new RtpPacket(h, Buffer.from(payload)));
      sent++;
    }
  }
  setTimeout(tick, Math.max(1, t0 + (ticks + 1) * 20 - performance.now()));
}
tick();

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as { call?: { n: number; ws: string; target: string; host: string; rate: number }; states?: true; measure?: true; report?: true; hangup?: true; exit?: true };
  if (m.call) {
    const { n, ws, target, host, rate } = m.call;
    void (async () => {
      const setupMs: number[] = [];
      let failed = 0;
      const pending: Array<Promise<void>> = [];
      for (let i = 0; i < n; i++) {
        pending.push(place(ws, target, host).then((ms) => void setupMs.push(ms), (err: Error) => {
          failed++;
          if (failed <= 3) process.stderr.write(`load: call failed: ${err.stack ?? err.message}\n`);
        }));
        await new Promise((r) => setTimeout(r, 1000 / rate));
      }
      await Promise.all(pending);
      reply({ placed: setupMs.length, failed, setupMs });
    })();
  } else if (m.measure) {
    sent = 0;
    received = 0;
    rtts = [];
    for (const c of calls) c.received = 0;
  } else if (m.states) {
    const states: Record<string, number> = {};
    for (const c of calls) states[c.pc.connectionState] = (states[c.pc.connectionState] ?? 0) + 1;
    reply({ states });
  } else if (m.report) {
    reply({ sent, received, silent: calls.filter((c) => c.received === 0).map((c) => c.callId), rttMs: rtts.sort((a, b) => a - b).filter((_, i, a) => i % Math.max(1, Math.floor(a.length / 2000)) === 0) });
  } else if (m.hangup) {
    void Promise.all(calls.splice(0).map(bye)).then(() => reply({ ended: true }));
  } else if (m.exit) {
    process.exit(0);
  }
});
