/**
 * Scenario links (SCENARIO-FORMAT.md, "URLs"): `#s=<encoded>` where encoded
 * is base64url (RFC 4648 §5, no padding) of the raw DEFLATE (RFC 1951) of the
 * scenario's UTF-8 JSON; `?scenario=<built-in id>`, `policy=` and `t=` (µs)
 * as query parameters. Decoding never throws: a bad link gives a message.
 *
 * A built-in shown unchanged but for its preset travels as the short link
 * `?scenario=<id>&policy=<preset>&t=<µs>` (a few dozen characters, for a
 * slide or a QR code); anything else travels whole in `#s=`.
 */
import { Inflate, deflateSync, strFromU8, strToU8 } from 'fflate';
import { isPresetName, type PresetName } from '../policy/index.ts';
import { formatErrors, parseJsonText, validateScenario } from './validate.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from './builtins/index.ts';
import type { PolicySpec, ResolvedScenario, Scenario } from './types.ts';

/** Largest decoded scenario a link may carry (bytes of JSON). */
export const MAX_LINK_JSON_BYTES = 2 * 1024 * 1024;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP: Record<string, number> = Object.fromEntries([...ALPHABET].map((c, i) => [c, i]));

export function base64urlEncode(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

/** Decode base64url (padding tolerated); null on a character outside the alphabet or an impossible length. */
export function base64urlDecode(s: string): Uint8Array | null {
  const t = s.replace(/=+$/, '');
  if (t.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((t.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < t.length; i += 4) {
    const c = [t[i], t[i + 1], t[i + 2], t[i + 3]].map((ch) => (ch === undefined ? 0 : LOOKUP[ch]));
    if (c.some((x) => x === undefined)) return null;
    const n = (c[0]! << 18) | (c[1]! << 12) | (c[2]! << 6) | c[3]!;
    out[o++] = (n >> 16) & 255;
    if (i + 2 < t.length) out[o++] = (n >> 8) & 255;
    if (i + 3 < t.length) out[o++] = n & 255;
  }
  return out.subarray(0, o);
}

/** The `#s=` payload for a scenario. */
export function encodeScenario(s: Scenario | ResolvedScenario): string {
  return base64urlEncode(deflateSync(strToU8(JSON.stringify(s)), { level: 9 }));
}

/**
 * Why a scenario cannot travel as a link (a link that would not open:
 * its JSON past MAX_LINK_JSON_BYTES, or its encoding past what a link may
 * hold), or null when it can.
 */
export function linkProblem(s: Scenario, encoded = encodeScenario(s)): string | null {
  const bytes = strToU8(JSON.stringify(s)).length;
  if (bytes > MAX_LINK_JSON_BYTES || encoded.length > (MAX_LINK_JSON_BYTES * 4) / 3) {
    return `the scenario is too large for a link (${(bytes / 1024 / 1024).toFixed(1)} MiB of JSON; a link holds at most ${MAX_LINK_JSON_BYTES / 1024 / 1024} MiB): download it from Scenario JSON instead`;
  }
  return null;
}

export type DecodeResult = { ok: true; scenario: ResolvedScenario; raw: Scenario } | { ok: false; error: string };

/** Decode and validate a `#s=` payload. */
/**
 * Raw DEFLATE data inflated to at most `limit` bytes: the input is fed in
 * small pieces (DEFLATE expands a piece at most about a thousandfold), so a
 * link that would inflate to gigabytes stops as soon as it passes the
 * limit, with little memory and time spent.
 */
export function inflateLimited(bytes: Uint8Array, limit: number): Uint8Array | 'too-large' | 'damaged' {
  const parts: Uint8Array[] = [];
  let total = 0;
  let over = false;
  let ended = false;
  const inf = new Inflate((chunk, final) => {
    total += chunk.length;
    if (total > limit) over = true;
    else parts.push(chunk.slice());
    if (final) ended = true;
  });
  const PIECE = 4096;
  try {
    for (let i = 0; i < bytes.length && !over; i += PIECE) inf.push(bytes.subarray(i, i + PIECE), i + PIECE >= bytes.length);
  } catch {
    return 'damaged';
  }
  if (over) return 'too-large';
  if (!ended) return 'damaged';
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function decodeScenario(encoded: string): DecodeResult {
  if (encoded.length === 0) return { ok: false, error: 'the link holds an empty scenario' };
  if (encoded.length > (MAX_LINK_JSON_BYTES * 4) / 3) return { ok: false, error: 'the link is too long to be a scenario' };
  const bytes = base64urlDecode(encoded);
  if (!bytes) return { ok: false, error: 'the link is not valid base64url (it may have been cut or changed)' };
  const raw = inflateLimited(bytes, MAX_LINK_JSON_BYTES);
  if (raw === 'too-large') {
    return {
      ok: false,
      error: `the scenario in the link is too large (more than ${MAX_LINK_JSON_BYTES / 1024 / 1024} MiB of JSON)`,
    };
  }
  if (raw === 'damaged') return { ok: false, error: 'the link is truncated or damaged (its compressed data does not decode)' };
  const json = strFromU8(raw);
  const parsed = parseJsonText(json);
  if (!parsed.ok) return { ok: false, error: `the scenario in the link is not valid JSON (${parsed.message})` };
  const data = parsed.value;
  const v = validateScenario(data);
  if (!v.ok) return { ok: false, error: `the scenario in the link is invalid:\n${formatErrors(v.errors)}` };
  return { ok: true, scenario: v.scenario, raw: data as Scenario };
}

export interface AppUrlState {
  builtin: string | null;
  encoded: string | null;
  policy: PresetName | null;
  tUs: number | null;
  errors: string[];
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/** Parse "a=1&b=2" (first occurrence wins); undecodable values are reported as null. */
export function parseQuery(s: string): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const part of s.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = safeDecode(i < 0 ? part : part.slice(0, i));
    if (k === null || m.has(k)) continue;
    // The #s= payload is base64url: keep it verbatim.
    m.set(k, i < 0 ? '' : k === 's' ? part.slice(i + 1) : safeDecode(part.slice(i + 1)));
  }
  return m;
}

/** Read the app's state from a location's search and hash. */
export function parseAppUrl(search: string, hash: string): AppUrlState {
  const st: AppUrlState = { builtin: null, encoded: null, policy: null, tUs: null, errors: [] };
  const q = parseQuery(search.startsWith('?') ? search.slice(1) : search);
  const h = parseQuery(hash.startsWith('#') ? hash.slice(1) : hash);
  const get = (k: string): string | null | undefined => (q.has(k) ? q.get(k) : h.get(k));
  const b = q.get('scenario');
  if (b !== undefined) {
    if (b === null) st.errors.push('scenario= is not readable (bad % escape)');
    else st.builtin = b;
  }
  const s = h.get('s');
  if (s !== undefined && s !== null) st.encoded = s;
  const p = get('policy');
  if (p === null) st.errors.push('policy= is not readable (bad % escape)');
  else if (p !== undefined) {
    if (isPresetName(p)) st.policy = p;
    else st.errors.push(`policy=${p.slice(0, 40)} is not a policy (baseline, v4 or driver-only)`);
  }
  const t = get('t');
  if (t === null) st.errors.push('t= is not readable (bad % escape)');
  else if (t !== undefined) {
    // A decimal number of µs (Number() would also take "0x10" as 16, "1e3" as 1000 and " 5 " as 5).
    const n = /^\d{1,15}(\.\d{1,9})?$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(n)) st.errors.push(`t=${t.slice(0, 40)} is not a time in µs`);
    else st.tUs = n;
  }
  return st;
}

/** A share link: the scenario in the fragment, policy and time in the query. */
export function buildShareUrl(base: string, encoded: string, policy: PresetName | null, tUs: number | null): string {
  const q: string[] = [];
  if (policy) q.push(`policy=${policy}`);
  if (tUs !== null) q.push(`t=${Math.round(tUs * 1000) / 1000}`);
  return `${base}${q.length ? `?${q.join('&')}` : ''}#s=${encoded}`;
}

/** The preset a scenario's policy names (a bare preset, or the preset of a preset with flags); v4 when it names none. */
export function presetOf(p: PolicySpec | undefined): PresetName {
  if (p === undefined) return 'v4';
  return typeof p === 'string' ? p : p.preset;
}

/**
 * The scenario a short link opens: the built-in `id` as written, or, when
 * `policy` names another preset than the built-in's own, the built-in under
 * that preset (its flags at their default). Undefined for an unknown id.
 */
export function shortLinkScenario(id: string, policy: PresetName | null): Scenario | undefined {
  const b = builtinScenario(id);
  if (!b) return undefined;
  return policy !== null && policy !== presetOf(b.policy) ? { ...b, policy } : b;
}

/**
 * The short link that opens exactly this scenario, as its built-in id and
 * preset; null when no short link does (the scenario is not a built-in, or
 * was edited, or carries policy flags of its own), so it needs `#s=`.
 */
export function shortLinkOf(s: Scenario): { id: string; policy: PresetName } | null {
  if (typeof s !== 'object' || s === null) return null;
  const policy = presetOf(s.policy);
  let json: string | null = null;
  for (const [id, b] of Object.entries(BUILTIN_SCENARIOS)) {
    // The name tells most scenarios apart without writing any JSON.
    if (b.name !== s.name) continue;
    json ??= JSON.stringify(s);
    if (JSON.stringify(shortLinkScenario(id, policy)) === json) return { id, policy };
  }
  return null;
}

/** A short link: a built-in by id, the preset and the time in the query, no fragment. */
export function buildShortUrl(base: string, id: string, policy: PresetName, tUs: number | null): string {
  const q = [`scenario=${encodeURIComponent(id)}`, `policy=${policy}`];
  if (tUs !== null) q.push(`t=${Math.round(tUs * 1000) / 1000}`);
  return `${base}?${q.join('&')}`;
}

/** The link for a scenario: the short link when one opens it exactly, else the whole scenario in `#s=`. */
export function linkFor(base: string, s: Scenario, policy: PresetName | null, tUs: number | null): string {
  const short = shortLinkOf(s);
  if (short) return buildShortUrl(base, short.id, short.policy, tUs);
  return buildShareUrl(base, encodeScenario(s), policy, tUs);
}
