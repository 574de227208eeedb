/**
 * 64-bit field access over Uint32Array storage (no BigInt on hot paths).
 * A structure of N dwords (u64) is stored as 2N uint32 words, little-endian:
 * word 2k holds dw k bits [31:0], word 2k+1 holds dw k bits [63:32].
 * Fields up to 53 bits wide are returned as JS numbers.
 */
export interface Field {
  readonly name: string;
  readonly dw: number;
  readonly lo: number;
  readonly width: number;
}

export function field(name: string, dw: number, hi: number, lo: number): Field {
  return { name, dw, lo, width: hi - lo + 1 };
}

const TWO32 = 0x1_0000_0000;

function mask(width: number): number {
  return width >= 32 ? 0xffffffff : ((1 << width) >>> 0) - 1;
}

/** Read `f` from the structure whose first word is at `base`. */
export function getField(a: Uint32Array, base: number, f: Field): number {
  const w = base + 2 * f.dw;
  if (f.lo >= 32) return ((a[w + 1]! >>> (f.lo - 32)) & mask(f.width)) >>> 0;
  if (f.lo + f.width <= 32) return ((a[w]! >>> f.lo) & mask(f.width)) >>> 0;
  // Straddles the two words.
  const lowBits = 32 - f.lo;
  const low = a[w]! >>> f.lo;
  const high = (a[w + 1]! & mask(f.width - lowBits)) >>> 0;
  return high * 2 ** lowBits + low;
}

/** Write `v` into `f`; bits of `v` above the field width are discarded. */
export function setField(a: Uint32Array, base: number, f: Field, v: number): void {
  const w = base + 2 * f.dw;
  if (f.lo >= 32) {
    const sh = f.lo - 32,
      m = (mask(f.width) << sh) >>> 0;
    a[w + 1] = ((a[w + 1]! & ~m) | ((v << sh) & m)) >>> 0;
    return;
  }
  if (f.lo + f.width <= 32) {
    const m = (mask(f.width) << f.lo) >>> 0;
    a[w] = ((a[w]! & ~m) | ((v << f.lo) & m)) >>> 0;
    return;
  }
  const lowBits = 32 - f.lo;
  const lowMask = (mask(lowBits) << f.lo) >>> 0;
  const lowVal = v % 2 ** lowBits;
  a[w] = ((a[w]! & ~lowMask) | ((lowVal << f.lo) & lowMask)) >>> 0;
  const highWidth = f.width - lowBits;
  const highVal = Math.floor(v / 2 ** lowBits) % TWO32;
  const hm = mask(highWidth);
  a[w + 1] = ((a[w + 1]! & ~hm) | (highVal & hm)) >>> 0;
}
