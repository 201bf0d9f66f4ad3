/**
 * Bencode (the BitTorrent encoding, BEP 3), the body format of rtpengine's ng control protocol:
 * integers `i42e`, byte strings `4:spam`, lists `l…e`, dictionaries `d…e` with keys sorted.
 *
 * Hand-written rather than taken from npm: it is 80 lines, the npm packages for it are either
 * unmaintained or decode to Buffers everywhere (the ng protocol is text in practice: SDP, tags,
 * flags), and a decoder facing the network should be one we can read whole. Strings are
 * decoded as UTF-8; lengths are byte counts.
 */

/** A bencodable value. `undefined` dictionary values are left out. */
export type BValue = string | number | Buffer | BValue[] | { [key: string]: BValue | undefined };

/** Encodes a value. Numbers must be integers. */
export function bencode(v: BValue): Buffer {
  const parts: Buffer[] = [];
  const walk = (x: BValue): void => {
    if (typeof x === 'number') {
      if (!Number.isInteger(x)) throw new TypeError(`bencode: ${x} is not an integer`);
      parts.push(Buffer.from(`i${x}e`));
    } else if (typeof x === 'string' || Buffer.isBuffer(x)) {
      const b = typeof x === 'string' ? Buffer.from(x, 'utf8') : x;
      parts.push(Buffer.from(`${b.length}:`), b);
    } else if (Array.isArray(x)) {
      parts.push(Buffer.from('l'));
      for (const e of x) walk(e);
      parts.push(Buffer.from('e'));
    } else {
      parts.push(Buffer.from('d'));
      // BEP 3: keys sorted as raw byte strings.
      for (const k of Object.keys(x).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
        const val = x[k];
        if (val === undefined) continue;
        walk(k);
        walk(val);
      }
      parts.push(Buffer.from('e'));
    }
  };
  walk(v);
  return Buffer.concat(parts);
}

/** A malformed bencoded message. */
export class BencodeError extends Error {
  override name = 'BencodeError';
}

/** Decodes one value that must fill `buf` exactly; byte strings become UTF-8 strings. */
export function bdecode(buf: Buffer): BValue {
  let i = 0;
  const MAX_DEPTH = 32;
  const read = (depth: number): BValue => {
    if (depth > MAX_DEPTH) throw new BencodeError('nested too deeply');
    const c = buf[i];
    if (c === undefined) throw new BencodeError('unexpected end');
    if (c === 0x69 /* i */) {
      const end = buf.indexOf(0x65, i);
      if (end < 0) throw new BencodeError('unterminated integer');
      const text = buf.toString('latin1', i + 1, end);
      if (!/^-?\d+$/.test(text)) throw new BencodeError(`bad integer "${text.slice(0, 20)}"`);
      i = end + 1;
      return Number(text);
    }
    if (c === 0x6c /* l */) {
      i++;
      const out: BValue[] = [];
      while (buf[i] !== 0x65) out.push(read(depth + 1));
      i++;
      return out;
    }
    if (c === 0x64 /* d */) {
      i++;
      const out: Record<string, BValue> = {};
      while (buf[i] !== 0x65) {
        const k = read(depth + 1);
        if (typeof k !== 'string') throw new BencodeError('dictionary key is not a string');
        out[k] = read(depth + 1);
      }
      i++;
      return out;
    }
    if (c >= 0x30 && c <= 0x39) {
      const colon = buf.indexOf(0x3a, i);
      if (colon < 0) throw new BencodeError('unterminated string length');
      const len = Number(buf.toString('latin1', i, colon));
      if (!Number.isSafeInteger(len) || colon + 1 + len > buf.length) throw new BencodeError('string runs past the end');
      i = colon + 1 + len;
      return buf.toString('utf8', colon + 1, i);
    }
    throw new BencodeError(`unexpected byte 0x${c.toString(16)} at ${i}`);
  };
  const v = read(0);
  if (i !== buf.length) throw new BencodeError(`${buf.length - i} bytes after the value`);
  return v;
}
