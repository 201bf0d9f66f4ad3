/**
 * SIP messages (RFC 3261 §7): requests and responses with ordered headers and a body.
 *
 * Headers are stored in order as `[normalizedName, value]` pairs, with list headers (§7.3.1)
 * already split so each Via/Route/Contact value is one entry. Structured views (`from`, `cseq`,
 * `via`, …) are parsed on first use and cached until the header changes.
 */
import { displayHeaderName, normalizeHeaderName, parseCSeq, parseVia, type CSeq, type Via } from './headers.js';
import { parseNameAddr, parseUri, type NameAddr, type SipUri } from './uri.js';

abstract class SipMessageBase {
  /** Ordered header entries, names normalized (lower-case long form). */
  readonly headers: Array<[string, string]> = [];
  /** The message body (may be empty). */
  body: Buffer = Buffer.alloc(0);
  private cache = new Map<string, unknown>();

  /** First value of a header, or undefined. */
  get(name: string): string | undefined {
    const n = normalizeHeaderName(name);
    for (const [k, v] of this.headers) if (k === n) return v;
    return undefined;
  }

  /** Every value of a header, in order. */
  getAll(name: string): string[] {
    const n = normalizeHeaderName(name);
    const out: string[] = [];
    for (const [k, v] of this.headers) if (k === n) out.push(v);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces all values of a header with one value (appended at the first position it had, or the end). */
  set(name: string, value: string | number): this {
    const n = normalizeHeaderName(name);
    const idx = this.headers.findIndex(([k]) => k === n);
    this.remove(n);
    if (idx >= 0) this.headers.splice(Math.min(idx, this.headers.length), 0, [n, String(value)]);
    else this.headers.push([n, String(value)]);
    return this;
  }

  /** Appends a header value. */
  add(name: string, value: string | number): this {
    this.headers.push([normalizeHeaderName(name), String(value)]);
    this.cache.clear();
    return this;
  }

  /** Inserts a header value before every other value of that header (e.g. a new top Via). */
  prepend(name: string, value: string): this {
    const n = normalizeHeaderName(name);
    const idx = this.headers.findIndex(([k]) => k === n);
    this.headers.splice(idx >= 0 ? idx : this.headers.length, 0, [n, value]);
    this.cache.clear();
    return this;
  }

  /** Removes every value of a header. */
  remove(name: string): this {
    const n = normalizeHeaderName(name);
    for (let i = this.headers.length - 1; i >= 0; i--) if (this.headers[i]![0] === n) this.headers.splice(i, 1);
    this.cache.clear();
    return this;
  }

  /** Removes the first value of a header (e.g. the top Via on a response). */
  removeFirst(name: string): this {
    const n = normalizeHeaderName(name);
    const idx = this.headers.findIndex(([k]) => k === n);
    if (idx >= 0) this.headers.splice(idx, 1);
    this.cache.clear();
    return this;
  }

  private cached<T>(key: string, make: () => T): T {
    if (this.cache.has(key)) return this.cache.get(key) as T;
    const v = make();
    this.cache.set(key, v);
    return v;
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): CSeq {
    return this.cached('cseq', () => parseCSeq(this.get('cseq') ?? ''));
  }

  get from(): NameAddr {
    return this.cached('from', () => parseNameAddr(this.get('from') ?? ''));
  }

  get to(): NameAddr {
    return this.cached('to', () => parseNameAddr(this.get('to') ?? ''));
  }

  get fromTag(): string | undefined {
    return this.from.params.tag ?? undefined;
  }

  get toTag(): string | undefined {
    return this.to.params.tag ?? undefined;
  }

  /** The top Via. */
  get via(): Via {
    return this.cached('via', () => parseVia(this.get('via') ?? ''));
  }

  /** All Vias, top first. */
  get vias(): Via[] {
    return this.cached('vias', () => this.getAll('via').map(parseVia));
  }

  /** Contact values (not `*`). */
  get contacts(): NameAddr[] {
    return this.cached('contacts', () => this.getAll('contact').filter((c) => c.trim() !== '*').map(parseNameAddr));
  }

  /** Serializes the start line, headers (with a correct Content-Length) and body. */
  toBuffer(): Buffer {
    let head = this.startLine() + '\r\n';
    for (const [k, v] of this.headers) if (k !== 'content-length') head += `${displayHeaderName(k)}: ${v}\r\n`;
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    return this.body.length ? Buffer.concat([Buffer.from(head, 'utf8'), this.body]) : Buffer.from(head, 'utf8');
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }

  protected abstract startLine(): string;
}

/** A SIP request (RFC 3261 §7.1). */
export class SipRequest extends SipMessageBase {
  readonly isRequest = true as const;
  private parsedUri?: SipUri;

  constructor(
    public method: string,
    public uri: string,
  ) {
    super();
  }

  /** The Request-URI parsed (throws for non-SIP schemes). */
  get requestUri(): SipUri {
    return (this.parsedUri ??= parseUri(this.uri));
  }

  setUri(uri: string): void {
    this.uri = uri;
    this.parsedUri = undefined;
  }

  protected startLine(): string {
    return `${this.method} ${this.uri} SIP/2.0`;
  }
}

/** A SIP response (RFC 3261 §7.2). */
export class SipResponse extends SipMessageBase {
  readonly isRequest = false as const;

  constructor(
    public status: number,
    public reason: string,
  ) {
    super();
  }

  protected startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }
}

/** Either kind of message. */
export type SipMessage = SipRequest | SipResponse;

/** Default reason phrases (RFC 3261 §21). */
export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme',
  420: 'Bad Extension', 423: 'Interval Too Brief', 480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete',
  486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending',
  500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Server Time-out', 505: 'Version Not Supported',
  513: 'Message Too Large', 603: 'Decline',
};

/** Random token for tags, branches and Call-IDs. */
export function randomToken(bytes = 8): string {
  // Tags, branches and Call-IDs are drawn from a pooled CSPRNG buffer: one kernel call per 4 KiB
  // instead of one per token (it showed up at 6% of the OPTIONS path in bench/sip.ts).
  if (poolOffset + bytes > POOL.length) {
    crypto.getRandomValues(POOL);
    poolOffset = 0;
  }
  const out = POOL.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return out;
}

const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;

/**
 * Builds a response to `req` per RFC 3261 §8.2.6.2: copies Via (all, in order), From, To,
 * Call-ID and CSeq; adds a To tag when given and the request had none.
 */
export function createResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const res = new SipResponse(status, reason ?? REASON_PHRASES[status] ?? 'Unknown');
  for (const v of req.getAll('via')) res.add('via', v);
  const from = req.get('from');
  if (from !== undefined) res.add('from', from);
  const to = req.get('to');
  if (to !== undefined) res.add('to', toTag && status !== 100 && !/;\s*tag=/i.test(to) ? `${to};tag=${toTag}` : to);
  res.add('call-id', req.callId);
  const cseq = req.get('cseq');
  if (cseq !== undefined) res.add('cseq', cseq);
  // RFC 3261 §8.2.6.1: a 100 Trying copies Timestamp.
  if (status === 100 && req.has('timestamp')) res.add('timestamp', req.get('timestamp')!);
  return res;
}
