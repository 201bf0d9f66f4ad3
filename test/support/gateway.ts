/** Starts an in-process gateway on random loopback ports for a test. */
import { createGateway, demoConfig, mergeConfig, type Gateway, type GatewayAddresses, type GatewayConfig } from '../../gateway/src/index.js';

export interface TestGateway {
  gw: Gateway;
  addrs: GatewayAddresses;
  stop(): Promise<void>;
}

export async function startGateway(over: Partial<GatewayConfig> = {}): Promise<TestGateway> {
  const base = demoConfig();
  const cfg = mergeConfig(base, {
    http: { port: 0 },
    sip: { ...base.sip, udpPort: 0, tcpPort: 0 },
    auth: { ...base.auth, tokenSecret: 'test-secret-test-secret' },
    // Tests drive many calls from 127.0.0.1; the flood test uses other loopback addresses.
    protection: { ...base.protection, trustedAddresses: ['127.0.0.1'] },
    center: { ...base.center, database: ':memory:' },
    ...over,
  });
  const gw = createGateway(cfg);
  const addrs = await gw.start();
  return { gw, addrs, stop: () => gw.stop() };
}
