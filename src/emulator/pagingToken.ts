/**
 * Lead-DB paging tokens. Marketo's are opaque base32 strings (`GIYD...===`); these encode an
 * offset the same way so clients cannot come to depend on a readable format.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const PREFIX = "emu-offset:";

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += "=";
  return out;
}

function unbase32(text: string): Buffer | undefined {
  const clean = text.replace(/=+$/, "");
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const ch of clean) {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) return undefined;
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

export function encodePagingToken(offset: number): string {
  return base32(Buffer.from(`${PREFIX}${offset}`, "utf8"));
}

/** The offset in a token, or undefined when the token is not one of ours. */
export function decodePagingToken(token: string): number | undefined {
  const bytes = unbase32(token);
  if (!bytes) return undefined;
  const text = bytes.toString("utf8");
  if (!text.startsWith(PREFIX)) return undefined;
  const n = Number(text.slice(PREFIX.length));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Marketo's date-based activity token, as its documentation's examples decode:
 * base32 of `2008-11-06T00:00:00.000+0000,0` from Get Paging Token, and
 * `2008-11-06T00:00:00.000+0000,1078` after a page whose last activity was 1078.
 */
export interface ActivityPosition {
  /** Activities dated before this instant (epoch ms) are not returned. */
  since: number;
  /** The id of the last activity already returned (0 before the first page). */
  afterId: number;
}

export function encodeActivityToken(p: ActivityPosition): string {
  const since = new Date(p.since).toISOString().replace("Z", "+0000");
  return base32(Buffer.from(`${since},${p.afterId}`, "utf8"));
}

export function decodeActivityToken(token: string): ActivityPosition | undefined {
  const bytes = unbase32(token);
  if (!bytes) return undefined;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\+0000,(\d+)$/.exec(bytes.toString("utf8"));
  if (!m) return undefined;
  const since = Date.parse(`${m[1]}Z`);
  const afterId = Number(m[2]);
  return Number.isNaN(since) || !Number.isSafeInteger(afterId) ? undefined : { since, afterId };
}
