/**
 * Composition root: builds the layers bottom-up (transport → transactions → SIP core →
 * B2BUA; media engine; HTTP/WebSocket front door) from one configuration.
 */
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpServer, type HttpDeps } from './api/http.js';
import { createMetrics } from './api/metrics.js';
import { LoginGuard } from './api/login-guard.js';
import { TokenService } from './api/token.js';
import { B2bua } from './calls/b2bua.js';
import { CallingPolicy } from './calls/policy.js';
import { ContactCenter } from './center/contact-center.js';
import { Router, type Directory } from './calls/router.js';
import { QualityMonitor } from './calls/quality.js';
import { DialogPackage } from './calls/blf.js';
import { parseConfig, tokenSecret, type GatewayConfig, type UserConfig } from './config.js';
import { LocalMediaEngine } from './media/engine.js';
import type { MediaEngine } from './media/types.js';
import { WorkerMediaEngine } from './media/worker-engine.js';
import { RtpengineMediaEngine } from './media/rtpengine/engine.js';
import { SipCore } from './sip/core.js';
import { SourceGuard } from './sip/guard.js';
import { TrunkManager } from './trunks/manager.js';
import { TransactionLayer } from './sip/transaction/layer.js';
import { TransportLayer } from './sip/transport/layer.js';
import { systemClock, type Clock } from './util/clock.js';
import { log } from './util/log.js';
import { isPasswordHash, verifyPassword } from './util/passwords.js';
import { ConnectionLimits, fdLimit, openFds } from './util/admission.js';

/** Addresses the gateway ended up listening on. */
export interface GatewayAddresses {
  httpUrl: string;
  wsUrl: string;
  sipUdpPort: number;
  sipTcpPort: number;
  /** With `tls` configured: SIP over TLS, and the HTTPS page / WSS endpoint. */
  sipTlsPort?: number;
  httpsUrl?: string;
  wssUrl?: string;
}

/** A running (or startable) gateway. */
export interface Gateway {
  /** Binds every listener; resolves with the bound addresses. */
  start(): Promise<GatewayAddresses>;
  /**
   * Ends calls (BYE both ways, records finished), then closes in order: SIP dialogs and
   * transactions, every connection (WebSockets get 1001 Going Away), the listeners, the contact
   * center's database and the media engine. Idempotent; resolves when every socket is closed.
   */
  stop(): Promise<void>;
  /**
   * Graceful shutdown: new calls get 503 (with Retry-After; OPTIONS too), browsers are told the
   * gateway is draining, calls in progress may end on their own for up to `limitMs` (default
   * `shutdown.drainSeconds`), then {@link stop}.
   */
  drain(limitMs?: number): Promise<void>;
  /** True from the moment {@link drain} starts. */
  readonly draining: boolean;
  readonly config: GatewayConfig;
  /** Issues access tokens (the same ones `POST /api/login` hands out). */
  readonly tokens: TokenService;
  /** @internal The SIP core (registrar, dialogs), for tests and status. */
  readonly sip: SipCore;
  /** @internal The call layer, for tests and status. */
  readonly b2bua: B2bua;
  /** @internal The media engine, for tests and status. */
  readonly media: MediaEngine;
  /** @internal The SIP transports, for tests and status. */
  readonly transport: TransportLayer;
  /** @internal Abuse protection, for tests and status. */
  readonly guard: SourceGuard;
  /** @internal PBX trunks, for tests and status. */
  readonly trunks: TrunkManager;
  /** The contact-center core: agents, queues (ACD), call records. */
  readonly center: ContactCenter;
}

function defaultStaticDirs(): Array<{ prefix: string; dir: string }> {
  // An installed package carries the demo in demo-app (scripts/copy-demo.mjs at pack time).
  const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  if (existsSync(path.join(pkg, 'demo-app', 'index.html'))) return [{ prefix: '/', dir: path.join(pkg, 'demo-app') }];
  // gateway/{src,dist}/gateway.(ts|js) → repository root
  const root = path.resolve(pkg, '..');
  return [
    { prefix: '/', dir: path.join(root, 'demo', 'public') },
    { prefix: '/', dir: path.join(root, 'demo', 'dist') },
    { prefix: '/sdk/', dir: path.join(root, 'sdk', 'dist') },
  ].filter((d) => existsSync(d.dir));
}

/** What can be injected into {@link createGateway} instead of being built from the configuration. */
export interface GatewayOptions {
  clock?: Clock;
  /**
   * The media engine (default: werift in a worker thread, or in this thread with
   * `media.worker: false`). The gateway closes it on stop.
   */
  media?: MediaEngine;
}

/** Builds a gateway from a configuration (see {@link loadConfig} / {@link defaultConfig}). */
export function createGateway(input: GatewayConfig, opts: GatewayOptions = {}): Gateway {
  const config = parseConfig(input);
  const clock = opts.clock ?? systemClock;
  const users = new Map<string, UserConfig>();
  for (const u of config.users) {
    users.set(u.username.toLowerCase(), u);
    if (u.extension) users.set(u.extension, u);
  }
  const byName = (name: string) => {
    const u = users.get(name.toLowerCase());
    return u && u.username.toLowerCase() === name.toLowerCase() ? u : undefined;
  };
  const advertised = config.advertisedHost ?? config.host;

  const guard = new SourceGuard(clock, config.protection);
  // Connection caps: a global one below the fd limit, and per address for each kind of listener.
  const nofile = fdLimit();
  const maxConnections = config.limits.maxConnections ?? (nofile ? Math.max(64, Math.floor(nofile / 2)) : 10_000);
  const limits = new ConnectionLimits(maxConnections);
  const trustedAddresses = new Set(config.protection.trustedAddresses);
  const sipPool = limits.pool('SIP TCP/TLS', config.sip.maxConnectionsPerIp, (a) => trustedAddresses.has(a));
  const httpPool = limits.pool('HTTP', config.http.maxConnectionsPerIp, (a) => trustedAddresses.has(a));
  // The names this gateway answers to (DNS-rebinding defence; docs/security.md).
  const allowedHosts = new Set(
    [
      ...(config.http.allowedHosts ?? [config.host, 'localhost', '127.0.0.1', '::1', ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))]),
      ...(config.advertisedHost ? [config.advertisedHost] : []),
    ]
      .filter((h) => h !== '0.0.0.0' && h !== '::')
      .map((h) => h.toLowerCase()),
  );
  const tlsCreds = config.tls ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } : undefined;
  const transport = new TransportLayer({
    bindHost: config.host,
    advertisedHost: advertised,
    guard,
    idleTimeoutMs: config.sip.idleTimeoutSeconds * 1000,
    messageTimeoutMs: config.limits.sipMessageTimeoutSeconds * 1000,
    handshakeTimeoutMs: config.limits.handshakeTimeoutSeconds * 1000,
    pool: sipPool,
    udpBufferBytes: config.sip.udpBufferBytes,
    tlsClient: { verify: config.tls?.verifyPeers ?? true, ...(config.tls?.caFile ? { ca: readFileSync(config.tls.caFile) } : {}) },
  });
  const txl = new TransactionLayer(transport, clock);
  const sip: SipCore = new SipCore(transport, txl, {
    clock,
    realm: config.sip.realm,
    digestAlgorithms: config.sip.digestAlgorithms,
    webSocketDigestAlgorithms: config.sip.webSocketDigestAlgorithms,
    credentials: (name) => {
      const u = byName(name);
      return u && { password: isPasswordHash(u.password) ? undefined : u.password, ha1: u.digestHa1, digestAlgorithms: u.digestAlgorithms };
    },
    advertisedHost: advertised,
    registrar: { minExpires: config.sip.minExpires, maxExpires: config.sip.maxExpires, defaultExpires: config.sip.defaultExpires, maxContacts: config.sip.maxContactsPerAor, contactLimitPolicy: config.sip.contactLimitPolicy },
    subscriptions: { minExpires: config.sip.subscriptions.minExpires, maxExpires: config.sip.subscriptions.maxExpires, perUser: config.sip.subscriptions.maxPerUser },
    userAgent: 'Switchboard/0.1',
    onAuthFailure: (source) => guard.authFailed(source),
    onUnauthenticated: (source) => guard.unauthenticated(source),
    ...(config.sip.sessionTimers.enabled ? { sessionTimers: { expires: config.sip.sessionTimers.expires, minSE: config.sip.sessionTimers.minSE } } : {}),
    trustedSource: (req, source): string | undefined => {
      const t = trunks.match(req, source);
      return t ? `trunk:${t.name}` : undefined;
    },
  });
  const trunks: TrunkManager = new TrunkManager(config.trunks, sip, clock);
  transport.onMessage = (msg, source) => txl.receive(msg, source);
  transport.hasDialogsWith = (address) => sip.hasDialogsWith(address);
  transport.onFlowClosed = (flowId) => {
    sip.flowClosed(flowId);
    sip.registrar.flowClosed(flowId);
    b2bua.flowClosed(flowId);
  };
  sip.registrar.on('registered', (b) => log.info('registrar', `${b.aor} registered from ${b.target.transport} ${b.target.host}:${b.target.port}${b.userAgent ? ` (${b.userAgent})` : ''}`));
  sip.registrar.on('unregistered', (b, why) => log.info('registrar', `${b.aor} unregistered (${why})`));

  const mediaAddress = config.media.address ?? config.host;
  const mediaOpts = {
    bindAddress: mediaAddress,
    announcedAddress: config.media.announcedAddress ?? config.advertisedHost ?? mediaAddress,
    ...(config.media.portRange ? { portRange: config.media.portRange } : {}),
    ...(config.media.musicOnHold ? { musicOnHold: config.media.musicOnHold } : {}),
    rtpTimeoutMs: config.media.rtpTimeoutSeconds * 1000,
  };
  const embedded = (o: typeof mediaOpts): MediaEngine => (config.media.worker ? new WorkerMediaEngine(o) : new LocalMediaEngine(o));
  // With rtpengine, rtpengine faces the network and the embedded engine carries the bridges,
  // announcing its own (media) address to rtpengine rather than the public one.
  const media: MediaEngine =
    opts.media ??
    (config.media.engine === 'rtpengine'
      ? new RtpengineMediaEngine(embedded({ ...mediaOpts, announcedAddress: mediaAddress === '0.0.0.0' ? '127.0.0.1' : mediaAddress }), { addresses: config.media.rtpengine, direct: config.media.rtpengineDirect, rtpTimeoutMs: config.media.rtpTimeoutSeconds * 1000, ...(config.media.rtpengineDtmfLog ? { dtmfLog: config.media.rtpengineDtmfLog } : {}) })
      : embedded(mediaOpts));

  media.on('endpointState', (id, state) => log.info('media', `${id} ${state}`));

  const directory: Directory = {
    find: (n) => {
      const u = users.get(n.toLowerCase());
      return u ? { username: u.username, ...(u.displayName ? { displayName: u.displayName } : {}), ...(u.staticContact ? { staticContact: u.staticContact } : {}) } : undefined;
    },
  };
  const queueKeys = new Map<string, string>();
  for (const q of config.queues) {
    queueKeys.set(q.name.toLowerCase(), q.name);
    if (q.extension) queueKeys.set(q.extension.toLowerCase(), q.name);
  }
  const router = new Router(directory, sip.registrar, config.echoExtensions, trunks.size > 0, (t) => queueKeys.get(t.toLowerCase()));
  const policy = new CallingPolicy(config.calling, (name) => {
    const u = byName(name);
    return u && { role: u.role, rights: u.calling };
  }, clock);
  const b2bua = new B2bua(sip, media, router, trunks, {
    reconnectGraceMs: config.calls.reconnectGraceSeconds * 1000,
    clock,
    probeIntervalMs: config.calls.probeIntervalSeconds * 1000,
    policy,
    conference: config.conference,
    supervision: config.supervision,
    roleOf: (name) => byName(name)?.role,
    callDataHeaders: config.center.callDataHeaders,
    desk: { autoAnswerHeaders: config.devices.autoAnswerHeaders, profiles: config.devices.profiles, dialRingMs: config.devices.dialRingSeconds * 1000 },
  });
  // Every party's line as the gateway hears it (loss, jitter, MOS), for supervisors and records.
  const lineQuality = new QualityMonitor(media, () => b2bua.active, config.media.qualityIntervalSeconds * 1000);
  lineQuality.start();
  // Busy lamps: the dialog package over the B2BUA's calls, told of every change of them.
  const blf = new DialogPackage(sip.notifier, router, () => b2bua.active, { watchers: config.sip.subscriptions.watchers, roleOf: (name) => byName(name)?.role });
  sip.notifier.register(blf);
  b2bua.on('callCreated', (call) => {
    call.on('stateChanged', () => blf.refresh());
    call.on('parties', () => blf.refresh());
  });
  b2bua.on('callEnded', () => blf.refresh());
  const center = new ContactCenter(clock, config, b2bua, sip);
  const loginGuard = new LoginGuard(clock, config.auth.login, (address) => guard.isBanned(address));
  const tokens = new TokenService(tokenSecret(config), config.auth.tokenTtlSeconds, undefined, (name) => byName(name)?.role);
  if (!config.auth.tokenSecret) log.warn('gateway', 'auth.tokenSecret is not set: using a random secret, tokens will not survive a restart');

  const metrics = createMetrics(async () => {
    const byState: Record<string, number> = {};
    let legs = 0;
    for (const c of b2bua.active) {
      byState[c.state] = (byState[c.state] ?? 0) + 1;
      legs += c.parties.filter((p) => p.endpointId).length;
    }
    const agents: Record<string, number> = {};
    for (const a of center.agents.list()) agents[a.state] = (agents[a.state] ?? 0) + 1;
    const udp = transport.udpStatus();
    return {
      calls: { byState, legs },
      registrations: sip.registrar.aors.length,
      dialogs: sip.dialogCount,
      transactions: txl.size,
      sip: { ...transport.stats, udpKernelDrops: udp?.kernelDrops },
      auth: sip.stats,
      protection: guard.stats,
      queues: center.acd.stats(),
      agents,
      media: await media.stats().catch(() => undefined),
      trunks: trunks.status().map((t) => ({ name: t.name, up: t.health !== 'down' })),
    };
  });

  let server: http.Server | undefined;
  let secureServer: http.Server | undefined;
  let stopped: Promise<void> | undefined;
  let draining = false;

  const gateway: Gateway = {
    config,
    sip,
    b2bua,
    media,
    transport,
    guard,
    trunks,
    tokens,
    center,
    async start() {
      // The media engine first: a gateway whose rtpengine is missing says so and does not start —
      // and releases what it holds (the media worker, the database, timers), so the process can
      // exit or try again.
      try {
        await media.start?.();
      } catch (err) {
        await gateway.stop().catch(() => undefined);
        throw err;
      }
      const udpPort = await transport.listenUdp(config.sip.udpPort);
      const tcpPort = await transport.listenTcp(config.sip.tcpPort === config.sip.udpPort && config.sip.udpPort === 0 ? 0 : config.sip.tcpPort);
      const tlsPort = tlsCreds ? await transport.listenTls(config.sip.tlsPort ?? 5061, tlsCreds) : undefined;
      const httpDeps: HttpDeps = {
        tokens,
        checkPassword: async (name, password) => {
          const u = byName(name);
          return u && (await verifyPassword(u.password, password)) ? { role: u.role } : undefined;
        },
        allowedOrigins: config.auth.allowedOrigins,
        center,
        staticDirs: config.staticDirs ?? defaultStaticDirs(),
        pool: httpPool,
        allowedHosts,
        loginGuard,
        onLoginFailure: (address) => guard.authFailed({ transport: 'TCP', address, port: 0, flowId: 'http' }),
        timeouts: {
          headersMs: config.limits.headersTimeoutSeconds * 1000,
          requestMs: config.limits.requestTimeoutSeconds * 1000,
          keepAliveMs: config.limits.keepAliveTimeoutSeconds * 1000,
          handshakeMs: config.limits.handshakeTimeoutSeconds * 1000,
        },
        onSipSocket: (ws, address, port, auth, secure, ticket) => {
          const id = transport.attachWebSocket(ws, address, port, auth, secure, ticket);
          if (id) log.info('sip.ws', `${id} open from ${address}:${port}${secure ? ' (secure)' : ''}${auth ? ` as ${auth.user}` : ' (no token: digest required)'}`);
        },
        metrics: { ...metrics, text: () => metrics.text(), allowedAddresses: config.http.metricsAllowedAddresses },
        status: async () => {
          const fds = { open: openFds(), limit: nofile };
          // Degraded (503 to load balancers): records cannot be written, or file descriptors are
          // nearly gone (new connections and media ports would fail).
          const problems = [
            ...(center.storageError ? [`call records cannot be written: ${center.storageError}`] : []),
            ...(fds.open !== undefined && fds.limit && fds.open > fds.limit * 0.9 ? [`${fds.open} of ${fds.limit} file descriptors in use`] : []),
          ];
          return {
          status: draining ? 'draining' : problems.length ? 'degraded' : 'ok',
          ...(problems.length ? { problems } : {}),
          connections: limits.stats,
          fds,
          registrations: sip.registrar.aors.length,
          dialogs: sip.dialogCount,
          calls: b2bua.active.length,
          transactions: txl.size,
          sip: { ...transport.stats, udp: transport.udpStatus() },
          auth: sip.stats,
          protection: guard.stats,
          calling: policy.stats,
          trunks: trunks.status(),
          queues: center.acd.stats().map((q) => ({ name: q.name, waiting: q.waiting, agentsAvailable: q.agentsAvailable })),
          media: await media.stats().catch((err: Error) => ({ error: err.message })),
        };
        },
      };
      const listen = async (srv: http.Server, port: number): Promise<number> => {
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port, config.host, () => resolve());
        });
        return (srv.address() as import('node:net').AddressInfo).port;
      };
      server = createHttpServer(httpDeps);
      const httpPort = await listen(server, config.http.port);
      transport.setWebSocketPort(httpPort);
      const host = advertised.includes(':') ? `[${advertised}]` : advertised;
      const addrs: GatewayAddresses = { httpUrl: `http://${host}:${httpPort}/`, wsUrl: `ws://${host}:${httpPort}/sip`, sipUdpPort: udpPort, sipTcpPort: tcpPort };
      log.info('gateway', `connection cap ${maxConnections} over all listeners (file-descriptor limit ${nofile ?? 'unknown'}; the rest is kept for media sockets, files and the database); per address: ${config.http.maxConnectionsPerIp} HTTP connections before authentication, ${config.sip.maxConnectionsPerIp} SIP TCP/TLS`);
      if (tlsCreds) {
        secureServer = createHttpServer({ ...httpDeps, tls: tlsCreds });
        const httpsPort = await listen(secureServer, config.http.httpsPort ?? 8443);
        transport.setWebSocketPort(httpsPort, true);
        addrs.sipTlsPort = tlsPort!;
        addrs.httpsUrl = `https://${host}:${httpsPort}/`;
        addrs.wssUrl = `wss://${host}:${httpsPort}/sip`;
      }
      trunks.start();
      return addrs;
    },
    get draining() {
      return draining;
    },
    async drain(limitMs = config.shutdown.drainSeconds * 1000) {
      if (draining || stopped) return stopped;
      draining = true;
      sip.draining = true;
      const deadline = Date.now() + limitMs;
      log.warn('gateway', `draining: new calls get 503; waiting up to ${Math.round(limitMs / 1000)} s for ${b2bua.active.length} calls to end`);
      center.broadcast({ type: 'gateway', state: 'draining', deadline });
      while (b2bua.active.length && Date.now() < deadline && !stopped) await new Promise((r) => setTimeout(r, 100));
      if (b2bua.active.length) log.warn('gateway', `drain limit reached: ending ${b2bua.active.length} calls`);
      await gateway.stop();
    },
    stop() {
      stopped ??= (async () => {
        sip.draining = true;
        lineQuality.stop();
        b2bua.close(); // BYE both ways; records are written as each call ends
        trunks.stop();
        sip.close();
        // Give the BYEs a moment to leave before the sockets close.
        await new Promise((r) => setTimeout(r, 100));
        center.close();
        txl.close();
        // Connections first (WebSockets are upgraded sockets the HTTP server no longer tracks,
        // and its close() would wait for them forever), then the listeners.
        await transport.close();
        for (const srv of [server, secureServer]) {
          if (!srv) continue;
          srv.closeAllConnections();
          await new Promise<void>((r) => srv.close(() => r()));
        }
        await media.close();
        log.info('gateway', 'stopped');
      })();
      return stopped;
    },
  };
  return gateway;
}
