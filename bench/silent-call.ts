/**
 * Diagnosis for the "silent call" seen in bench:media on rtpengine (docs/media.md): the same load
 * (werift WebRTC calls → gateway → sipp RTP echo) against an in-process gateway on rtpengine with
 * the media engine in this thread, so that when a call gets nothing back its state can be read:
 * the call's parties and endpoints, the inner RTP endpoints' remotes, the bridge membership.
 *   ip netns exec sbdev node --import tsx bench/silent-call.ts [calls=100] [rounds=3]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Rtpengine } from '../test/support/rtpengine.js';
import { startGateway } from '../test/support/gateway.js';
import { freePort } from '../test/support/net.js';
import { RtpengineMediaEngine } from '../gateway/src/media/rtpengine/engine.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const CALLS = Number(process.argv[2] ?? 100);
const ROUNDS = Number(process.argv[3] ?? 3);

async function main(): Promise<void> {
  for (let round = 1; round <= ROUNDS; round++) {
    const r = await Rtpengine.start();
    const [uasPort, uasMedia] = [await freePort(), await freePort()];
    const uas = spawn('sipp', ['-sf', path.join(ROOT, 'bench', 'uas-echo.xml'), '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-mp', String(uasMedia), '-rtp_echo', '-t', 'u1', '-nostdin'], { stdio: 'ignore' });
    const gw = await startGateway({
      users: [
        { username: 'load', password: 'bench-load-pw', role: 'agent' },
        { username: 'echo', password: 'bench-echo-pw', role: 'agent', extension: '7000', staticContact: `sip:echo@127.0.0.1:${uasPort}` },
      ],
      calls: { probeIntervalSeconds: 0 },
      media: { engine: 'rtpengine', rtpengine: [r.address], worker: false },
    });
    const load = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'webrtc-load.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const replies: Array<(v: Record<string, unknown>) => void> = [];
    readline.createInterface({ input: load.stdout! }).on('line', (l) => replies.shift()?.(JSON.parse(l) as Record<string, unknown>));
    const ask = (o: unknown) => new Promise<Record<string, unknown>>((res) => (replies.push(res), load.stdin!.write(JSON.stringify(o) + '\n')));
    const { token } = (await (await fetch(new URL('/api/login', gw.addrs.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'load', password: 'bench-load-pw' }) })).json()) as { token: string };
    const placed = await ask({ call: { n: CALLS, ws: `${gw.addrs.wsUrl}?access_token=${token}`, target: '7000', host: '127.0.0.1', rate: 20 } });
    await new Promise((res) => setTimeout(res, 3000));
    await ask({ measure: true });
    await new Promise((res) => setTimeout(res, 3000));
    const rep = (await ask({ report: true })) as { silent: string[] };
    console.log(`round ${round}: ${String(placed.placed)} calls, ${rep.silent.length} silent`);
    if (rep.silent.length) {
      const media = gw.gw.media as RtpengineMediaEngine;
      const inner = media.inner as unknown as { endpoints: Map<string, { remote?: unknown; droppedUnverified?: number; port?: number; socket?: { address(): { port: number } } }>; memberOf: Map<string, string> };
      const outer = media as unknown as { endpoints: Map<string, { id: string; inner: string; callId: string }> };
      // The SIP Call-IDs of the silent calls name the gateway call whose caller leg they are.
      for (const sipCallId of rep.silent) {
        const call = gw.gw.b2bua.active.find((c) => c.parties.some((p) => p.dialog?.init.callId === sipCallId));
        console.log(`silent ${sipCallId}: gateway call ${call?.id ?? '(none)'} state ${call?.state}`);
        for (const p of call?.parties ?? []) {
          const e = p.endpointId ? outer.endpoints.get(p.endpointId) : undefined;
          const ie = e ? inner.endpoints.get(e.inner) : undefined;
          console.log(`  ${p.role} ${p.party} joined=${p.joined} mode=${p.mode} endpoint=${p.endpointId} → inner ${e?.inner} port ${ie?.socket?.address().port} remote ${JSON.stringify(ie?.remote)} dropped ${ie?.droppedUnverified} bridge ${e ? inner.memberOf.get(e.inner) : '-'}`);
        }
      }
    }
    await ask({ hangup: true });
    load.kill('SIGKILL');
    uas.kill('SIGKILL');
    await gw.stop();
    await r.stop();
    if (rep.silent.length) break;
  }
  process.exit(0);
}

void main();
