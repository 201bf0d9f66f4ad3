/**
 * Every failure path releases what it took. The media engine is wrapped so that its Nth setup
 * operation fails (a port shortage for endpoint creation, an engine error otherwise); for every
 * N a clean call uses, a real SIP device places the call through the gateway. Afterwards the
 * gateway must hold no call, no dialog and no media endpoint, and the caller must have been
 * answered (a 5xx) or BYE'd — never left hanging.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { demoConfig, LocalMediaEngine, type MediaEngine } from '../../gateway/src/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startSipDevice, type SipDevice } from '../support/sip-device.js';

/** Setup operations a failure is injected into (closing is cleanup, not setup). */
const SETUP = new Set(['createEndpoint', 'offer', 'answer', 'acceptAnswer', 'connect', 'hold', 'resume', 'echo', 'expectMedia', 'reanswer', 'reoffer']);

/** A LocalMediaEngine whose `failAt`-th setup operation throws. */
function faultyEngine(): { engine: MediaEngine; failAt: { n: number }; count: { n: number } } {
  const inner = new LocalMediaEngine({ bindAddress: '127.0.0.1', portRange: [31000, 31999] });
  const failAt = { n: 0 };
  const count = { n: 0 };
  const engine = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof v !== 'function' || !SETUP.has(prop)) return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (...args: unknown[]) => {
        count.n++;
        if (count.n === failAt.n) throw new Error(prop === 'createEndpoint' ? 'no free RTP port in 31000-31999 (injected)' : `${prop} failed (injected)`);
        return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  }) as MediaEngine;
  return { engine, failAt, count };
}

async function settled(gw: TestGateway): Promise<{ calls: number; dialogs: number; endpoints: number }> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const s = { calls: gw.gw.b2bua.active.length, dialogs: gw.gw.sip.dialogCount, endpoints: (await gw.gw.media.stats()).endpoints };
    if ((s.calls === 0 && s.dialogs === 0 && s.endpoints === 0) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a failure at each setup step releases everything', () => {
  let gw: TestGateway;
  let fault: ReturnType<typeof faultyEngine>;
  let caller: SipDevice;
  let callee: SipDevice;

  before(async () => {
    fault = faultyEngine();
    callee = await startSipDevice({ user: 'desk2', password: 'unused' });
    gw = await startGateway({
      media: { rtpTimeoutSeconds: 0 },
      // desk2: a device that answers everything — called directly, and as the only agent of queue "solo".
      users: [...demoConfig().users, { username: 'desk2', password: 'desk2-password', role: 'agent', extension: '2002', skills: { solo: 5 }, staticContact: `sip:desk2@127.0.0.1:${callee.port}` }],
      queues: [...demoConfig().queues, { name: 'solo', extension: '790', skills: { solo: 1 }, ringTimeoutSeconds: 5, maxWaitSeconds: 60 }],
      center: { wrapUpSeconds: 0 },
    }, { media: fault.engine });
    caller = await startSipDevice({ user: 'deskphone', password: 'deskphone-demo', gatewayPort: gw.addrs.sipUdpPort });
  });

  after(async () => {
    await caller?.close();
    await callee?.close();
    await gw?.stop();
  });

  /** desk2 ready for queue calls (after a missed offer or a wrap-up). */
  const ready = () => {
    try {
      gw.gw.center.run({ type: 'agent-state', state: 'available' }, { user: 'desk2', role: 'agent' });
    } catch {
      // already available, or on a call
    }
  };

  for (const [what, target] of [['a device calling a device', '2002'], ['the echo test', '600'], ['a call waiting in a queue (no agent)', '700'], ['a queue call offered to an agent who answers', '790']] as const) {
    test(what, async () => {
      ready();
      // A clean call first: how many setup operations does it use?
      fault.failAt.n = 0;
      fault.count.n = 0;
      const ok = await caller.call(target);
      // Setup may go on after the answer (a queue offer rings the agent): let it finish.
      await new Promise((r) => setTimeout(r, 1500));
      const steps = fault.count.n;
      assert.ok(steps >= 2, `a clean call uses setup steps (${steps})`);
      await ok.bye();
      assert.deepEqual(await settled(gw), { calls: 0, dialogs: 0, endpoints: 0 }, 'a clean call leaves nothing');
      const outcomes: string[] = [];
      for (let n = 1; n <= steps; n++) {
        ready();
        fault.count.n = 0;
        fault.failAt.n = n;
        let outcome: string;
        try {
          const d = await caller.call(target);
          // The failure came after the answer: the gateway must end the call itself.
          const end = await new Promise<string>((resolve) => {
            const t = setTimeout(() => resolve('still up'), 3000);
            d.on('terminated', (why) => {
              clearTimeout(t);
              resolve(`answered, then ${why}`);
            });
          });
          if (end === 'still up') await d.bye();
          outcome = end;
        } catch (err) {
          outcome = (err as Error).message.replace(/^call to \S+ failed: /, '');
        }
        outcomes.push(`step ${n}: ${outcome}`);
        const left = await settled(gw);
        assert.deepEqual(left, { calls: 0, dialogs: 0, endpoints: 0 }, `failure at step ${n} (${outcome}) left ${JSON.stringify(left)}`);
      }
      fault.failAt.n = 0;
      console.log(`# ${what}: ${steps} setup steps; ${outcomes.join('; ')}`);
      assert.ok(outcomes.some((o) => o.includes(': 503 No Media Port Available')), 'a port shortage is answered 503');
    });
  }
});
