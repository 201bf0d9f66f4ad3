/**
 * Header names and the structured headers the stack reads (RFC 3261 §7.3, §20).
 */
import { parseParams, formatParams, SipSyntaxError } from './uri.js';

/** Compact forms (RFC 3261 §7.3.3, RFC 3515 for `r`, RFC 3265 for `o`/`u`). */
const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', r: 'refer-to', o: 'event', u: 'allow-events',
  b: 'referred-by', x: 'session-expires',
};

/** Canonical display casing for serialization. */
const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', 'mime-version': 'MIME-Version',
  'rack': 'RAck', 'rseq': 'RSeq', 'sip-etag': 'SIP-ETag', 'sip-if-match': 'SIP-If-Match',
};

/** Lower-cased long form of a header name. */
export function normalizeHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** Display form (`Content-Length`, `Call-ID`) of a normalized name. */
export function displayHeaderName(name: string): string {
  return CANONICAL[name] ?? name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
}

/** Headers whose value may be a comma-separated list (RFC 3261 §7.3.1); others are never split. */
export const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'allow-events', 'content-encoding', 'in-reply-to',
]);

/** A parsed Via header value (RFC 3261 §20.42). */
export interface Via {
  protocol: string; // e.g. "SIP/2.0/UDP"
  transport: string; // upper case: UDP, TCP, TLS, WS, WSS
  host: string;
  port?: number;
  params: Record<string, string | null>;
}

/** Parses one Via value. */
export function parseVia(text: string): Via {
  const m = /^\s*SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+([^;\s]+)\s*(;.*)?$/i.exec(text);
  if (!m) throw new SipSyntaxError('Bad Via header');
  const transport = m[1]!.toUpperCase();
  const sentBy = m[2]!;
  let host = sentBy;
  let port: number | undefined;
  const pm = /^(.*):(\d+)$/.exec(sentBy);
  if (pm && !sentBy.endsWith(']')) {
    host = pm[1]!;
    port = Number(pm[2]);
    if (port < 1 || port > 65535) throw new SipSyntaxError('Bad Via port');
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(host)) throw new SipSyntaxError('Bad Via host');
  const via: Via = { protocol: `SIP/2.0/${transport}`, transport, host, params: m[3] ? parseParams(m[3].slice(1)) : {} };
  if (port !== undefined) via.port = port;
  return via;
}

/** Formats a Via value. */
export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${via.host}${via.port !== undefined ? ':' + via.port : ''}${formatParams(via.params)}`;
}

/** A parsed CSeq (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/** Parses CSeq; the number must fit 32 bits (RFC 3261 §8.1.1.5). */
export function parseCSeq(text: string): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(text);
  if (!m) throw new SipSyntaxError('Bad CSeq header');
  const seq = Number(m[1]);
  if (seq > 0xffffffff) throw new SipSyntaxError('CSeq number out of range');
  return { seq, method: m[2]! };
}

/** RFC 3261 §8.1.1.7 magic cookie for branches. */
export const BRANCH_COOKIE = 'z9hG4bK';
