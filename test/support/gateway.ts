/** Starts an in-process gateway on random loopback ports for a test. */
import { Rtpengine, TEST_ENGINE } from './rtpengine.js';
import { createGateway, demoConfig, mergeConfig, type Gateway, type GatewayAddresses, type GatewayConfig, type GatewayOptions } from '../../gateway/src/index.js';

export interface TestGateway {
  gw: Gateway;
  addrs: GatewayAddresses;
  /** The gateway's own rtpengine (the engine matrix's second leg), if it has one. */
  rtpengine?: Rtpengine | undefined;
  stop(): Promise<void>;
}

/** Sections given in `over` are merged over the test defaults (ports 0, in-memory records…), not replacing them. */
type Over = { [K in keyof GatewayConfig]?: GatewayConfig[K] extends unknown[] ? GatewayConfig[K] : GatewayConfig[K] extends object ? Partial<GatewayConfig[K]> : GatewayConfig[K] };

export async function startGateway(over: Over = {}, opts: GatewayOptions = {}): Promise<TestGateway> {
  const base = demoConfig();
  const test: Over = {
    http: { port: 0 },
    sip: { ...base.sip, udpPort: 0, tcpPort: 0 },
    auth: { ...base.auth, tokenSecret: 'test-secret-test-secret' },
    // Tests drive many calls from 127.0.0.1; the flood test uses other loopback addresses.
    protection: { ...base.protection, trustedAddresses: ['127.0.0.1'] },
    center: { ...base.center, database: ':memory:' },
  };
  const merged: Record<string, unknown> = { ...test };
  for (const [k, v] of Object.entries(over)) {
    const t = (test as Record<string, unknown>)[k];
    merged[k] = v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' ? { ...t, ...v } : v;
  }
  // The engine matrix: with SWITCHBOARD_TEST_MEDIA=rtpengine each gateway gets an rtpengine of
  // its own (unless the test brought one, or its own engine).
  let rtpengine: Rtpengine | undefined;
  const media = (merged.media ?? {}) as Record<string, unknown>;
  if (TEST_ENGINE === 'rtpengine' && !opts.media && media.engine === undefined) {
    rtpengine = await Rtpengine.start();
    merged.media = { ...media, engine: 'rtpengine', rtpengine: [rtpengine.address], rtpengineDtmfLog: rtpengine.dtmfLog, ...(process.env.SWITCHBOARD_TEST_RTPENGINE_DIRECT === '0' ? { rtpengineDirect: false } : {}) };
  }
  const cfg = mergeConfig(base, merged as never);
  const gw = createGateway(cfg, opts);
  let addrs: GatewayAddresses;
  try {
    addrs = await gw.start();
  } catch (err) {
    await rtpengine?.stop();
    throw err;
  }
  return {
    gw,
    addrs,
    rtpengine,
    stop: async () => {
      await gw.stop();
      await rtpengine?.stop();
    },
  };
}
