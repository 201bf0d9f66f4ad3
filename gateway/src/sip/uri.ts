/**
 * SIP URIs (RFC 3261 §19.1) and name-addr values (§20.10, §25.1).
 *
 * Parsing is strict about structure and tolerant about case; anything that is not a sip/sips URI
 * is kept as an opaque `other` URI (RFC 3261 §19.1.6: a proxy or UA must not reject tel:, urn:, …
 * just for their scheme, the routing layer decides).
 */

/**
 * A parsed URI. For `sip:`/`sips:` every field applies; any other scheme (`tel:`, `urn:`, …) is
 * kept opaque: `user` holds the part before the first `;` (the number, for tel: URIs, RFC 3966),
 * `host` is empty, and `params` holds what follows.
 */
export interface SipUri {
  /** Lower-cased scheme: `sip`, `sips`, or another RFC 3986 scheme. */
  scheme: string;
  user?: string;
  password?: string;
  host: string;
  port?: number;
  /** URI parameters, names lower-cased; a flag parameter has value `null`. */
  params: Record<string, string | null>;
  /** Embedded headers after `?`, kept raw. */
  headers?: string;
}

/** Error thrown by the URI parsers; the message is a 400 reason phrase. */
export class SipSyntaxError extends Error {
  override name = 'SipSyntaxError';
}

const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/;
/** RFC 3986 §3.1 scheme. */
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/** True for the schemes this gateway can route (sip, sips; tel by its number). */
export function isSipScheme(uri: SipUri): boolean {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}

/**
 * Parses a URI: `sip:`/`sips:` fully (RFC 3261 §19.1.1), other schemes as opaque absolute URIs
 * (§19.1.6). Throws {@link SipSyntaxError} when it is not a URI at all.
 */
export function parseUri(text: string): SipUri {
  const raw = text.trim();
  const colon = raw.indexOf(':');
  if (colon < 0) throw new SipSyntaxError(`Bad URI: ${raw.slice(0, 60)}`);
  const scheme = raw.slice(0, colon).toLowerCase();
  if (!SCHEME_RE.test(scheme)) throw new SipSyntaxError(`Bad URI scheme: ${scheme.slice(0, 30)}`);
  let rest = raw.slice(colon + 1);
  if (scheme !== 'sip' && scheme !== 'sips') {
    if (!rest || /\s/.test(rest)) throw new SipSyntaxError(`Bad ${scheme} URI`);
    const semi = rest.indexOf(';');
    const opaque: SipUri = { scheme, host: '', params: semi >= 0 ? parseParams(rest.slice(semi + 1)) : {} };
    opaque.user = decodeUriPart(semi >= 0 ? rest.slice(0, semi) : rest);
    return opaque;
  }
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    user = decodeUriPart(pc >= 0 ? userinfo.slice(0, pc) : userinfo);
    if (pc >= 0) password = decodeUriPart(userinfo.slice(pc + 1));
    if (!user) throw new SipSyntaxError('Bad URI: empty user');
  }
  const semi = rest.indexOf(';');
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const params = semi >= 0 ? parseParams(rest.slice(semi + 1)) : {};
  let host = hostport;
  let port: number | undefined;
  const portMatch = /^(.*?):(\d+)$/.exec(hostport);
  if (portMatch && !hostport.endsWith(']')) {
    host = portMatch[1]!;
    port = Number(portMatch[2]);
    if (port < 1 || port > 65535) throw new SipSyntaxError(`Bad URI port: ${portMatch[2]}`);
  }
  if (!host || !HOST_RE.test(host)) throw new SipSyntaxError(`Bad URI host: ${host.slice(0, 60)}`);
  const uri: SipUri = { scheme, host: host.toLowerCase(), params };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  if (headers !== undefined) uri.headers = headers;
  return uri;
}

function decodeUriPart(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new SipSyntaxError('Bad URI escape');
  }
}

/** Serializes a URI; the user part is escaped per RFC 3261 §25.1 `user` (unreserved + user-unreserved). */
export function formatUri(uri: SipUri): string {
  if (!isSipScheme(uri)) return `${uri.scheme}:${escapeUser(uri.user ?? '')}${formatParams(uri.params)}`;
  let s = `${uri.scheme}:`;
  if (uri.user !== undefined) {
    s += escapeUser(uri.user);
    if (uri.password !== undefined) s += ':' + escapeUser(uri.password);
    s += '@';
  }
  s += uri.host;
  if (uri.port !== undefined) s += `:${uri.port}`;
  s += formatParams(uri.params);
  if (uri.headers) s += `?${uri.headers}`;
  return s;
}

function escapeUser(user: string): string {
  return user.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''),
  );
}

/** Parses `a=b;c;d="e"` (no leading `;`) into lower-cased names. */
export function parseParams(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const part of splitOutsideQuotes(text, ';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) out[p.toLowerCase()] = null;
    else out[p.slice(0, eq).trim().toLowerCase()] = unquote(p.slice(eq + 1).trim());
  }
  return out;
}

/** Formats parameters with a leading `;` each. */
export function formatParams(params: Record<string, string | null>): string {
  let s = '';
  for (const [k, v] of Object.entries(params)) s += v === null ? `;${k}` : `;${k}=${needsQuotes(v) ? `"${v}"` : v}`;
  return s;
}

function needsQuotes(v: string): boolean {
  return /[\s;,"<>]/.test(v);
}

/** Removes surrounding double quotes and unescapes `\"` (RFC 3261 §25.1 quoted-string). */
export function unquote(s: string): string {
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) return s.slice(1, -1).replace(/\\(.)/g, '$1');
  return s;
}

/** Splits on `sep` where it is not inside double quotes or angle brackets. */
export function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A From/To/Contact/Route value: optional display name, URI, header parameters (RFC 3261 §20.10). */
export interface NameAddr {
  displayName?: string;
  uri: SipUri;
  params: Record<string, string | null>;
}

/** Parses a name-addr or addr-spec with header parameters. `*` is not accepted here. */
export function parseNameAddr(text: string): NameAddr {
  const s = text.trim();
  if ((s.replace(/\\./g, '').match(/"/g)?.length ?? 0) % 2) throw new SipSyntaxError('Unbalanced quotes in display name');
  const lt = indexOutsideQuotes(s, '<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new SipSyntaxError('Unterminated <URI>');
    const rawDisplay = s.slice(0, lt).trim();
    // §25.1: display-name = *(token LWS) / quoted-string.
    if (rawDisplay.startsWith('"')) {
      if (!/^"(?:[^"\\]|\\.)*"$/s.test(rawDisplay)) throw new SipSyntaxError('Unbalanced quotes in display name');
    } else if (rawDisplay && !/^[A-Za-z0-9.!%*_+`'~\- \t]+$/.test(rawDisplay)) {
      throw new SipSyntaxError('Display name must be quoted');
    }
    const display = unquote(rawDisplay);
    const tail = s.slice(gt + 1).trim();
    if (tail && !tail.startsWith(';')) throw new SipSyntaxError('Garbage after >');
    const out: NameAddr = { uri: parseUri(s.slice(lt + 1, gt)), params: tail ? parseParams(tail.slice(1)) : {} };
    if (display) out.displayName = display;
    return out;
  }
  // addr-spec form: parameters after the URI belong to the header (RFC 3261 §20.10).
  const semi = s.indexOf(';');
  const uriText = semi >= 0 ? s.slice(0, semi) : s;
  return { uri: parseUri(uriText), params: semi >= 0 ? parseParams(s.slice(semi + 1)) : {} };
}

/** Index of `ch` outside double-quoted strings, or -1. */
function indexOutsideQuotes(s: string, ch: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ch) return i;
  }
  return -1;
}

/** Formats a name-addr, always with angle brackets. */
export function formatNameAddr(na: NameAddr): string {
  const display = na.displayName ? `"${na.displayName.replace(/(["\\])/g, '\\$1')}" ` : '';
  return `${display}<${formatUri(na.uri)}>${formatParams(na.params)}`;
}
