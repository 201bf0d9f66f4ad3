/**
 * SIP message parser (RFC 3261 §7, §25) with hard limits, plus a stream framer for TCP/TLS
 * (§18.3: framing by Content-Length).
 *
 * The parser never throws: it returns either a message or a reason that becomes the 400 reason
 * phrase. When a bad request is still answerable (its top Via and the dialog headers are present),
 * the partial request is returned so the transport layer can send the 400 (§21.4.1).
 */
import { LIST_HEADERS, normalizeHeaderName, parseVia } from './headers.js';
import { SipRequest, SipResponse, type SipMessage } from './message.js';
import { parseCSeq } from './headers.js';
import { parseNameAddr, parseUri, splitOutsideQuotes, SipSyntaxError } from './uri.js';

/** Limits applied to every message; defaults suit UDP and WebSocket. */
export interface ParserLimits {
  /** Maximum bytes in one message, head and body. */
  maxMessageBytes: number;
  /** Maximum header entries after list splitting. */
  maxHeaders: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxMessageBytes: 65_535, maxHeaders: 256 };

/** Result of {@link parseMessage}. */
export type ParseResult =
  | { ok: true; message: SipMessage }
  /** `status`: the response to send with `request` (400, or 505 for another SIP version). */
  | { ok: false; reason: string; request?: SipRequest; status?: number };

const TOKEN_RE = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const REQUEST_LINE_RE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/;
/** A line that is a request line in intent but not in form (extra spaces, other version). */
const LOOSE_REQUEST_LINE_RE = /^([A-Za-z0-9.!%*_+`'~-]+)[ \t]+(\S+)[ \t]+SIP\/(\d+\.\d+)[ \t]*$/i;
const STATUS_LINE_RE = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/;

/** Finds the blank line ending the head; returns [headEnd, bodyStart] or undefined. */
function findHeadEnd(buf: Buffer, from = 0): [number, number] | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from);
  const lf = buf.indexOf('\n\n', from);
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return [crlf, crlf + 4];
  if (lf >= 0) return [lf, lf + 2];
  return undefined;
}

/** Parses one complete message (a UDP datagram, a WebSocket frame, or a framed stream chunk). */
export function parseMessage(input: Buffer | string, limits: ParserLimits = DEFAULT_LIMITS): ParseResult {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (buf.length > limits.maxMessageBytes) return { ok: false, reason: 'Message Too Large' };
  // RFC 3261 §7.5: leading CRLFs before the start line are ignored.
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const ends = findHeadEnd(buf, start);
  // A message with no body may end right after its last header's CRLF.
  const headEnd = ends ? ends[0] : buf.length;
  const bodyStart = ends ? ends[1] : buf.length;
  const head = buf.subarray(start, headEnd).toString('utf8');
  if (head.includes('\0')) return { ok: false, reason: 'NUL byte in message head' };
  // §7.3.1: header folding — a line starting with whitespace continues the previous one.
  const lines = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
  // The start line is taken as is: RFC 4475 §3.1.2.6/§3.1.2.7 (extra or trailing SP) are errors.
  const startLine = lines.shift() ?? '';

  let msg: SipMessage;
  /** A start-line problem found after the request could be built, so it can still be answered. */
  let lineError: { reason: string; status: number } | undefined;
  const req = REQUEST_LINE_RE.exec(startLine);
  if (req) {
    // Method names are case-sensitive (RFC 3261 §7.1).
    msg = new SipRequest(req[1]!, req[2]!);
  } else if (LOOSE_REQUEST_LINE_RE.test(startLine)) {
    const loose = LOOSE_REQUEST_LINE_RE.exec(startLine)!;
    msg = new SipRequest(loose[1]!, loose[2]!);
    // §8.2.2 / §21.5.6: another SIP version gets 505; bad spacing gets 400.
    lineError = loose[3] !== '2.0' ? { reason: 'Version Not Supported', status: 505 } : { reason: 'Malformed Request-Line', status: 400 };
  } else {
    const st = STATUS_LINE_RE.exec(startLine);
    if (!st) return { ok: false, reason: /SIP\/(?!2\.0)/.test(startLine) ? 'Version Not Supported' : 'Malformed start line' };
    msg = new SipResponse(Number(st[1]), st[2] ?? '');
  }

  // A bad header line is remembered and skipped, so the dialog headers after it can still be
  // read and the request answered with a 400 naming the problem.
  let headerError: string | undefined;
  for (const line of lines) {
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      headerError ??= `Malformed header line: ${line.slice(0, 40)}`;
      continue;
    }
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN_RE.test(rawName)) {
      headerError ??= `Bad header name: ${rawName.slice(0, 40)}`;
      continue;
    }
    const name = normalizeHeaderName(rawName);
    const value = line.slice(colon + 1).trim();
    if (LIST_HEADERS.has(name)) {
      for (const part of splitOutsideQuotes(value, ',')) {
        const v = part.trim();
        if (v) msg.headers.push([name, v]);
      }
    } else {
      msg.headers.push([name, value]);
    }
    if (msg.headers.length > limits.maxHeaders) return fail(msg, 'Too many headers');
  }
  if (lineError) return fail(msg, lineError.reason, lineError.status);
  if (headerError) return fail(msg, headerError);

  // Body and Content-Length (§18.3, §20.14).
  let body = buf.subarray(bodyStart);
  const clValues = msg.getAll('content-length');
  if (clValues.length > 1 && new Set(clValues).size > 1) return fail(msg, 'Conflicting Content-Length headers');
  if (clValues.length) {
    if (!/^\d{1,9}$/.test(clValues[0]!)) return fail(msg, 'Bad Content-Length');
    const cl = Number(clValues[0]);
    if (cl > body.length) return fail(msg, 'Content-Length larger than body');
    body = body.subarray(0, cl);
  }
  msg.body = Buffer.from(body);

  const problem = validate(msg);
  if (problem) return fail(msg, problem);
  return { ok: true, message: msg };
}

function fail(msg: SipMessage, rawReason: string, status = 400): ParseResult {
  // The reason becomes a status line: control characters from the input must not reach it.
  const reason = rawReason.replace(/[\x00-\x1f\x7f]/g, '?');
  if (msg instanceof SipRequest && msg.method !== 'ACK' && answerable(msg)) return { ok: false, reason, request: msg, status };
  return { ok: false, reason };
}

/** A bad request can still be answered if its top Via parses and the dialog headers exist. */
function answerable(msg: SipRequest): boolean {
  try {
    parseVia(msg.get('via') ?? '');
  } catch {
    return false;
  }
  return ['from', 'to', 'call-id', 'cseq'].every((h) => msg.has(h));
}

/** Checks mandatory headers (RFC 3261 §8.1.1) and their syntax. Returns a 400 reason or undefined. */
function validate(msg: SipMessage): string | undefined {
  for (const h of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!msg.has(h)) return `Missing ${h === 'call-id' ? 'Call-ID' : h === 'cseq' ? 'CSeq' : h[0]!.toUpperCase() + h.slice(1)} header`;
  }
  try {
    for (const v of msg.getAll('via')) parseVia(v);
    parseNameAddr(msg.get('from')!);
    parseNameAddr(msg.get('to')!);
    const cseq = parseCSeq(msg.get('cseq')!);
    if (msg instanceof SipRequest) {
      if (cseq.method !== msg.method) return 'CSeq method does not match request method';
      const ruri = parseUri(msg.uri);
      // §19.1.1 table: headers (`?…`) are not allowed in a Request-URI (RFC 4475 §3.1.2.10).
      if (ruri.headers !== undefined) return 'Request-URI must not contain headers';
      const mf = msg.get('max-forwards');
      // §20.22: 0-255 (RFC 4475 §3.1.2.4 sends 300).
      if (mf !== undefined && (!/^\d{1,10}$/.test(mf) || Number(mf) > 255)) return 'Bad Max-Forwards';
    }
  } catch (err) {
    if (err instanceof SipSyntaxError) return err.message;
    throw err;
  }
  if (!msg.callId) return 'Empty Call-ID';
  return undefined;
}

/**
 * Splits a byte stream into SIP messages (RFC 3261 §18.3). Feed it chunks; it returns complete
 * message buffers and keep-alive pings (RFC 5626 §3.5.1: a double CRLF, to be answered with a
 * single CRLF). Errors (oversized head or body, bad Content-Length) mean the stream cannot be
 * resynchronized and must be closed.
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  /** True while part of a message has arrived and the rest has not (CRLF keep-alives do not count). */
  get pending(): boolean {
    for (const b of this.buf) if (b !== 0x0d && b !== 0x0a) return true;
    return false;
  }

  push(chunk: Buffer): { messages: Buffer[]; pings: number; error?: string } {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const messages: Buffer[] = [];
    let pings = 0;
    for (;;) {
      // Keep-alives and stray CRLFs between messages.
      let skip = 0;
      while (skip < this.buf.length && (this.buf[skip] === 0x0d || this.buf[skip] === 0x0a)) skip++;
      if (skip) {
        // Each double CRLF is one ping, however TCP split or coalesced them.
        const parts = this.buf.subarray(0, skip).toString('latin1').split('\r\n\r\n');
        pings += parts.length - 1;
        if (skip === this.buf.length) {
          // Only CRLFs so far: keep a ping cut in two for the next chunk.
          const tail = parts[parts.length - 1]!;
          this.buf = tail && '\r\n\r\n'.startsWith(tail) ? Buffer.from(tail, 'latin1') : Buffer.alloc(0);
          break;
        }
        this.buf = this.buf.subarray(skip);
      }
      if (!this.buf.length) break;
      const ends = findHeadEnd(this.buf);
      if (!ends) {
        if (this.buf.length > this.limits.maxMessageBytes) return { messages, pings, error: 'Message head too large' };
        break;
      }
      const head = this.buf.subarray(0, ends[0]).toString('latin1');
      const m = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*(\S*)/i.exec(head);
      // §18.3: Content-Length is mandatory on stream transports.
      if (!m) return { messages, pings, error: 'Missing Content-Length on stream transport' };
      if (!/^\d{1,9}$/.test(m[1]!)) return { messages, pings, error: 'Bad Content-Length' };
      const total = ends[1] + Number(m[1]);
      if (total > this.limits.maxMessageBytes) return { messages, pings, error: 'Message Too Large' };
      if (this.buf.length < total) break;
      messages.push(Buffer.from(this.buf.subarray(0, total)));
      this.buf = this.buf.subarray(total);
    }
    return { messages, pings };
  }
}
