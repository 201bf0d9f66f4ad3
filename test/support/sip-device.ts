/**
 * A headless SIP phone for tests, built from the gateway's own SIP layers (UDP transport,
 * RFC 3261 transactions, dialogs): it answers INVITEs, places calls with digest credentials
 * and sends in-dialog requests such as REFER — the things sipp cannot do across two dialogs
 * (an attended transfer needs two calls and a REFER naming the other one).
 */
import { SipCore } from '../../gateway/src/sip/core.js';
import type { Dialog } from '../../gateway/src/sip/dialog.js';
import type { SipRequest } from '../../gateway/src/sip/message.js';
import { TransactionLayer } from '../../gateway/src/sip/transaction/layer.js';
import { TransportLayer } from '../../gateway/src/sip/transport/layer.js';
import { systemClock } from '../../gateway/src/util/clock.js';

const sdp = (port: number) => ['v=0', `o=device 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 8 101`,
  'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');

export interface SipDevice {
  port: number;
  /** Where the gateway listens (UDP); set it before calling. */
  gatewayPort: number;
  /** Dialogs of answered incoming calls, in order. */
  incoming: Dialog[];
  /** In-dialog requests received (NOTIFY sipfrag bodies, BYEs), as "METHOD body". */
  received: string[];
  /** Calls `user` at the gateway, authenticating as the device's user. */
  call(user: string): Promise<Dialog>;
  close(): Promise<void>;
}

/** Starts a device on a random UDP port that answers every call at once. */
export async function startSipDevice(opts: { user: string; password: string; gatewayPort?: number; port?: number; mediaPort?: number }): Promise<SipDevice> {
  const transport = new TransportLayer({ bindHost: '127.0.0.1', advertisedHost: '127.0.0.1' });
  const txl = new TransactionLayer(transport, systemClock);
  const core = new SipCore(transport, txl, {
    clock: systemClock, realm: 'device', digestAlgorithms: ['MD5'], credentials: () => undefined, advertisedHost: '127.0.0.1',
    registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 600 }, userAgent: 'TestDevice/1',
    // The gateway is the only peer; its INVITEs are not challenged.
    trustedSource: () => 'gateway',
  });
  transport.onMessage = (msg, source) => txl.receive(msg, source);
  const port = await transport.listenUdp(opts.port ?? 0);
  const received: string[] = [];
  const incoming: Dialog[] = [];
  const watch = (d: Dialog) => {
    d.on('request', (req: SipRequest, tx) => {
      received.push(`${req.method} ${req.body.toString('utf8').trim()}`);
      if (tx) core.respond(tx, 200, undefined, [], d.init.localTag);
    });
    d.on('terminated', (why) => received.push(`terminated ${why}`));
  };
  core.delegate = {
    onInvite: (inv) => {
      const d = inv.accept(sdp(opts.mediaPort ?? 9));
      incoming.push(d);
      watch(d);
    },
  };
  const device: SipDevice = {
    port,
    gatewayPort: opts.gatewayPort ?? 5060,
    incoming,
    received,
    call: (user) =>
      new Promise<Dialog>((resolve, reject) => {
        const target = { transport: 'UDP' as const, host: '127.0.0.1', port: device.gatewayPort };
        const out = core.invite({
          target, requestUri: `sip:${user}@127.0.0.1:${device.gatewayPort}`, from: { user: opts.user }, to: { user }, offer: sdp(opts.mediaPort ?? 9),
          credentials: { username: opts.user, password: opts.password },
        });
        out.on('accepted', (_res, d) => {
          watch(d);
          resolve(d);
        });
        out.on('failed', (status, reason) => reject(new Error(`call to ${user} failed: ${status} ${reason}`)));
        out.start();
      }),
    close: async () => {
      core.close();
      txl.close();
      await transport.close();
    },
  };
  return device;
}
