/**
 * The HTTP front door: the demo page and SDK bundle, `POST /api/login` (credentials → token),
 * `GET /api/health`, and the WebSocket upgrade for SIP (RFC 7118) on `/sip`, where the token
 * (query `access_token`) and the Origin allow-list are checked before any SIP is spoken.
 */
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { log } from '../util/log.js';
import type { FlowAuth } from '../sip/transport/types.js';
import type { Role, TokenService } from './token.js';
import { CommandError, type ContactCenter } from '../center/contact-center.js';
import { AgentError } from '../center/agents.js';
import { involves, recordsToCsv, type RecordFilter } from '../center/store.js';
import type { ConnectionPool, Ticket } from '../util/admission.js';
import type { LoginGuard } from './login-guard.js';

/** What the HTTP server needs from the rest of the gateway. */
export interface HttpDeps {
  tokens: TokenService;
  /** Checks a user's password; returns their role or undefined. */
  checkPassword(username: string, password: string): Promise<{ role: Role } | undefined>;
  /** Attempt limits for logins (per user and per address, with backoff). */
  loginGuard?: LoginGuard;
  /** Told of every failed login's address (the SIP guard counts it too). */
  onLoginFailure?(address: string): void;
  /** Allowed Origin values for the WebSocket upgrade; empty = same host as the request only. */
  allowedOrigins: readonly string[];
  /** Static files: URL prefix → directory. */
  staticDirs: Array<{ prefix: string; dir: string }>;
  /** Hands an accepted SIP WebSocket (with its admission ticket) to the transport layer. */
  onSipSocket(ws: import('ws').WebSocket, address: string, port: number, auth: FlowAuth | undefined, secure: boolean, ticket: Ticket | undefined): void;
  /**
   * Admission of connections (per-address cap for connections that have not authenticated, a
   * global cap); unlimited when absent. A WebSocket upgraded with a valid token leaves its
   * address's count.
   */
  pool?: ConnectionPool;
  /**
   * Host names (and addresses) this gateway is reached by; requests naming another Host get 421
   * (DNS rebinding). Any host is served when absent.
   */
  allowedHosts?: ReadonlySet<string>;
  /** Deadlines: request headers complete within, whole request within, keep-alive idle (ms). */
  timeouts?: { headersMs: number; requestMs: number; keepAliveMs: number; handshakeMs: number };
  /** Serve HTTPS (and so WSS) with this PEM certificate and key instead of plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Health/status document. */
  status(): Promise<unknown>;
  /** The contact-center core behind `/api/stats`, `/api/agents…` and `/api/records`. */
  center?: ContactCenter;
  /** `/metrics` (Prometheus), for these source addresses or an admin's bearer token. */
  metrics?: { text(): Promise<string>; contentType: string; allowedAddresses: readonly string[] };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.map': 'application/json', '.svg': 'image/svg+xml',
  '.wav': 'audio/wav', '.ico': 'image/x-icon', '.d.ts': 'text/plain',
};

/** Maximum JSON body accepted by the API. */
const MAX_BODY = 16 * 1024;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** A JSON object request body, or undefined when the body is not one (too large, not JSON, not an object). */
async function readObject(req: http.IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const body = await readJson(req).catch(() => undefined);
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
}

/** Creates the HTTP (or, with `deps.tls`, HTTPS) server, not yet listening. */
export function createHttpServer(deps: HttpDeps): http.Server {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    // RFC 7118 §4: the client must offer the "sip" subprotocol and we must select it.
    handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
  });

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: Error) => {
      log.error('http', `${req.method} ${redactUrl(req.url)} failed`, err);
      if (!res.headersSent) json(res, 500, { error: { code: 'INTERNAL', message: 'Internal error' } });
    });
  };
  const secure = !!deps.tls;
  const t = deps.timeouts ?? { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, handshakeMs: 10_000 };
  // Deadlines (a request's headers must complete in headersMs from the connection's first byte
  // wait, whatever trickles in; the whole request in requestMs), checked every second.
  const serverOpts = { headersTimeout: t.headersMs, requestTimeout: t.requestMs, keepAliveTimeout: t.keepAliveMs, connectionsCheckingInterval: 1000 };
  const server: http.Server = deps.tls
    ? https.createServer({ ...deps.tls, minVersion: 'TLSv1.2', handshakeTimeout: t.handshakeMs, ...serverOpts }, onRequest)
    : http.createServer(serverOpts, onRequest);
  // Every TCP connection (TLS too, before its handshake) is admitted under the caps first.
  const tickets = new WeakMap<import('node:net').Socket, Ticket>();
  server.on('connection', (socket: import('node:net').Socket) => {
    if (!deps.pool) return;
    const ticket = deps.pool.admit((socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
    if (!ticket) {
      socket.destroy();
      return;
    }
    tickets.set(socket, ticket);
    socket.once('close', () => ticket.release());
  });
  // A connection that never sends a byte is closed by the headers deadline too (Node checks it
  // only once a request has begun; this timer covers the silent ones).
  server.on('connection', (socket: import('node:net').Socket) => {
    const silent = setTimeout(() => socket.destroy(), t.headersMs);
    silent.unref();
    socket.once('data', () => clearTimeout(silent));
    socket.once('close', () => clearTimeout(silent));
  });

  /** Same host as the page (the gateway's own demo), or listed in `auth.allowedOrigins`. */
  function originAllowed(origin: string, host: string | undefined): boolean {
    return (sameHost(origin, host) && hostAllowed(host)) || deps.allowedOrigins.includes(origin);
  }

  /** Whether a Host header names this gateway (`allowedHosts`; any when that is absent). */
  function hostAllowed(host: string | undefined): boolean {
    if (!deps.allowedHosts) return true;
    if (!host) return false;
    const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
    return deps.allowedHosts.has(name);
  }

  /**
   * CORS for `/api/*` (desktops on their own origin, docs/desktop.md): a listed origin gets its
   * preflight answered and `Access-Control-Allow-Origin`; an unlisted one gets 403 and no CORS
   * header (the browser then refuses the response). `/api/ping` answers any origin: it says only
   * whether the gateway is up and whether the asking origin is allowed, so the SDK can tell "your
   * origin is refused" from "the gateway is unreachable".
   * Returns true when the request was answered here.
   */
  function cors(req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean {
    const origin = req.headers.origin;
    if (url.pathname === '/api/ping') {
      res.setHeader('access-control-allow-origin', '*');
      json(res, 200, { ok: true, originAllowed: origin ? originAllowed(origin, req.headers.host) : true });
      return true;
    }
    if (!origin || sameHost(origin, req.headers.host)) return false;
    if (!deps.allowedOrigins.includes(origin)) {
      log.warn('http', `${req.method} ${url.pathname} from origin ${origin.slice(0, 100)} refused (not in auth.allowedOrigins)`);
      json(res, 403, { error: { code: 'ORIGIN_REFUSED', message: `Origin ${origin} is not allowed` } });
      return true;
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return true;
    }
    return false;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    // DNS rebinding: a page on evil.example whose name resolves to this gateway sends
    // Host: evil.example; only the names this gateway is reached by are served.
    if (!hostAllowed(req.headers.host)) {
      log.warn('http', `${req.method} ${url.pathname} refused: Host ${String(req.headers.host).slice(0, 100)} is not one of this gateway's names (http.allowedHosts)`);
      return json(res, 421, { error: { code: 'MISDIRECTED', message: 'This gateway does not serve that host name' } });
    }
    if (url.pathname.startsWith('/api/') && cors(req, res, url)) return;
    if (url.pathname === '/metrics' && deps.metrics) {
      const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const v = bearer ? deps.tokens.verify(bearer) : undefined;
      if (!deps.metrics.allowedAddresses.includes(addr) && !(v?.ok && v.claims.role === 'admin')) {
        return json(res, 403, { error: { code: 'FORBIDDEN', message: 'Metrics are for the addresses in http.metricsAllowedAddresses, or an admin token' } });
      }
      const text = await deps.metrics.text();
      res.writeHead(200, { 'content-type': deps.metrics.contentType, 'cache-control': 'no-store' });
      res.end(text);
      return;
    }
    if (url.pathname === '/api/login') {
      if (req.method !== 'POST') return json(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'Use POST' } });
      let body: { username?: unknown; password?: unknown };
      try {
        body = (await readJson(req)) as typeof body;
      } catch {
        return json(res, 400, { error: { code: 'BAD_REQUEST', message: 'Body must be JSON: {"username", "password"}' } });
      }
      if (typeof body?.username !== 'string' || typeof body.password !== 'string') {
        return json(res, 400, { error: { code: 'BAD_REQUEST', message: 'username and password are required strings' } });
      }
      const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      const lock = deps.loginGuard?.check(body.username, address);
      if (lock) {
        res.setHeader('retry-after', String(lock.retryAfterSeconds));
        return json(res, 429, {
          error: {
            code: 'LOCKED_OUT',
            message: lock.who === 'user' ? `Too many failed logins for this user; try again in ${lock.retryAfterSeconds} s` : `Too many failed logins from this address; try again in ${lock.retryAfterSeconds} s`,
            retryAfterSeconds: lock.retryAfterSeconds,
          },
        });
      }
      const user = await deps.checkPassword(body.username, body.password);
      if (!user) {
        log.warn('http', `login failed for "${body.username.slice(0, 64)}" from ${address}`);
        deps.loginGuard?.failed(body.username, address);
        deps.onLoginFailure?.(address);
        return json(res, 401, { error: { code: 'BAD_CREDENTIALS', message: 'Wrong user name or password' } });
      }
      deps.loginGuard?.succeeded(body.username);
      const { token, expiresAt } = deps.tokens.issue(body.username, user.role);
      return json(res, 200, { token, expiresAt, username: body.username, role: user.role });
    }
    if (url.pathname === '/api/health') {
      const status = (await deps.status()) as { status?: string };
      // 503 while draining: load balancers stop sending new agents here.
      return json(res, status.status === 'ok' ? 200 : 503, status);
    }
    if (url.pathname.startsWith('/api/') && deps.center) {
      const handled = await centerApi(req, res, url, deps.center);
      if (handled) return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'GET only' } });
    return serveStatic(url.pathname, res);
  }

  /**
   * The contact-center API (docs/contact-center.md): a bearer token (`Authorization: Bearer` or
   * `?access_token=`) is required; agents see and change only themselves.
   */
  async function centerApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL, center: ContactCenter): Promise<boolean> {
    const route = /^\/api\/(stats|records|agents|calls)(?:\/([A-Za-z0-9._-]{1,64})(?:\/(state|wrap-up|history|data))?)?$/.exec(url.pathname);
    if (!route) return false;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('access_token');
    const v = bearer ? deps.tokens.verify(bearer) : undefined;
    if (!v?.ok) {
      json(res, 401, { error: { code: 'UNAUTHORIZED', message: bearer ? `Invalid access token (${v && !v.ok ? v.reason : 'bad'})` : 'A bearer token is required' } });
      return true;
    }
    const who = { user: v.claims.sub, role: v.claims.role };
    const supervisor = who.role === 'supervisor' || who.role === 'admin';
    const [, what, name, action] = route;
    const fail = (status: number, code: string, message: string) => json(res, status, { error: { code, message } });
    try {
      if (what === 'stats' && !name) {
        if (req.method !== 'GET') return fail(405, 'METHOD_NOT_ALLOWED', 'GET only'), true;
        json(res, 200, center.stats());
      } else if (what === 'calls' && name && action === 'data') {
        // Attach attributes to a call (a CRM linking its case; docs/contact-center.md).
        if (req.method !== 'POST') return fail(405, 'METHOD_NOT_ALLOWED', 'POST only'), true;
        const body = await readObject(req);
        if (!body) return fail(400, 'BAD_REQUEST', 'Body must be a JSON object'), true;
        json(res, 200, center.run({ type: 'call-data', callId: name, attributes: body.attributes }, who));
      } else if (req.method !== 'GET' && req.method !== 'HEAD' && !(what === 'agents' && name && (action === 'state' || action === 'wrap-up'))) {
        return fail(405, 'METHOD_NOT_ALLOWED', 'GET only'), true;
      } else if (what === 'agents' && !name) {
        // Supervisors and admins see every agent; an agent sees itself (docs/contact-center.md).
        json(res, 200, { agents: supervisor ? center.agentStats() : center.agentStats(who.user) });
      } else if (what === 'agents' && name && action === 'history') {
        if (!supervisor && name.toLowerCase() !== who.user.toLowerCase()) return fail(403, 'FORBIDDEN', 'Agents may read only their own history'), true;
        json(res, 200, { history: center.store.agentHistory(name, Number(url.searchParams.get('from') ?? 0) || 0) });
      } else if (what === 'agents' && name && (action === 'state' || action === 'wrap-up')) {
        if (req.method !== 'POST') return fail(405, 'METHOD_NOT_ALLOWED', 'POST only'), true;
        const body = await readObject(req);
        if (!body) return fail(400, 'BAD_REQUEST', 'Body must be a JSON object'), true;
        json(res, 200, center.run({ ...body, type: action === 'state' ? 'agent-state' : 'wrap-up', agent: name }, who));
      } else if (what === 'agents' && name && !action) {
        if (!supervisor && name.toLowerCase() !== who.user.toLowerCase()) return fail(403, 'FORBIDDEN', 'Agents may read only their own status'), true;
        const [a] = center.agentStats(name);
        if (!a) return fail(404, 'NOT_FOUND', `No agent ${name}`), true;
        json(res, 200, a);
      } else if (what === 'calls' && !name) {
        json(res, 200, center.run({ type: 'calls' }, who));
      } else if (what === 'records' && name && !action) {
        const rec = center.store.call(name);
        if (!rec || (!involves(rec, who.user) && !supervisor)) return fail(404, 'NOT_FOUND', `No record ${name} of yours`), true;
        json(res, 200, rec);
      } else if (what === 'records' && !name) {
        const q = url.searchParams;
        const num = (k: string) => (q.get(k) !== null && /^\d+$/.test(q.get(k)!) ? Number(q.get(k)) : undefined);
        const filter: RecordFilter = {};
        for (const k of ['from', 'to', 'limit', 'offset'] as const) {
          const n = num(k);
          if (n !== undefined) filter[k] = n;
          else if (q.get(k) !== null) return fail(400, 'BAD_REQUEST', `${k} must be a whole number (ms since the epoch for from/to)`), true;
        }
        for (const k of ['queue', 'agent', 'party', 'outcome'] as const) {
          const val = q.get(k);
          if (val) filter[k] = val;
        }
        // Agents see the calls they handled; supervisors and admins see everything.
        if (!supervisor) filter.agent = who.user;
        const records = center.store.calls(filter);
        if (q.get('format') === 'csv') {
          const csv = recordsToCsv(records);
          res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="calls.csv"', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(csv) });
          res.end(csv);
        } else {
          json(res, 200, { records });
        }
      } else {
        return false;
      }
    } catch (err) {
      if (err instanceof CommandError) fail(err.status, err.code, err.message);
      else if (err instanceof AgentError) fail(err.code === 'UNKNOWN_REASON' ? 400 : err.code === 'NOT_AN_AGENT' ? 404 : 409, err.code, err.message);
      else throw err;
    }
    return true;
  }

  async function serveStatic(pathname: string, res: http.ServerResponse): Promise<void> {
    for (const { prefix, dir } of deps.staticDirs) {
      if (!pathname.startsWith(prefix)) continue;
      let rel: string;
      try {
        rel = decodeURIComponent(pathname.slice(prefix.length));
      } catch {
        return json(res, 400, { error: { code: 'BAD_REQUEST', message: 'Malformed %-escape in the path' } });
      }
      if (rel === '' || rel.endsWith('/')) rel += 'index.html';
      const file = path.resolve(dir, '.' + path.posix.normalize('/' + rel));
      if (!file.startsWith(path.resolve(dir) + path.sep)) continue; // no path traversal
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      const ext = path.extname(file);
      res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-cache' });
      res.end(await readFile(file));
      return;
    }
    json(res, 404, { error: { code: 'NOT_FOUND', message: `No such page: ${pathname}` } });
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const reject = (status: number, message: string) => {
      log.warn('http', `WebSocket upgrade from ${req.socket.remoteAddress} refused: ${message}`);
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message}\n`);
    };
    if (url.pathname !== '/sip') return reject(404, 'SIP WebSocket is at /sip');
    if (!hostAllowed(req.headers.host)) return reject(421, `Host ${String(req.headers.host).slice(0, 100)} is not one of this gateway's names`);
    const origin = req.headers.origin;
    if (origin && !originAllowed(origin, req.headers.host)) return reject(403, `Origin ${origin} is not allowed`);
    let auth: FlowAuth | undefined;
    const token = url.searchParams.get('access_token');
    if (token !== null) {
      const v = deps.tokens.verify(token);
      if (!v.ok) return reject(401, `Invalid access token (${v.reason})`);
      auth = { user: v.claims.sub, role: v.claims.role };
    }
    // The raw socket (TLS: its underlying TCP socket) carries the admission ticket.
    const raw = req.socket as import('node:net').Socket & { _parent?: import('node:net').Socket };
    const ticket = tickets.get(raw) ?? (raw._parent ? tickets.get(raw._parent) : undefined);
    // Authenticated by token: this agent no longer counts against its address's cap.
    if (auth) ticket?.exempt();
    wss.handleUpgrade(req, socket, head, (ws) => {
      deps.onSipSocket(ws, (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), req.socket.remotePort ?? 0, auth, secure, ticket);
    });
  });

  server.on('close', () => wss.close());
  return server;
}

/** A URL for the log: `access_token` values replaced (a failing URL must not leak a token). */
export function redactUrl(url: string | undefined): string {
  return (url ?? '').replace(/([?&]access_token=)[^&#]*/gi, '$1…').slice(0, 300);
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
