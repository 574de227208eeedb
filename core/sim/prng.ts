/**
 * Seeded PRNG (sfc32). The state is four 32-bit words in a typed array, so
 * it is cloned with the rest of the simulation state by a snapshot, and an
 * update is plain 32-bit integer arithmetic that allocates nothing.
 */
export type PrngState = Int32Array;

export function prngInit(seed: number): PrngState {
  // splitmix32 spreads a small integer seed over the 128-bit state.
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const st = new Int32Array(4);
  st[0] = next();
  st[1] = next();
  st[2] = next();
  st[3] = next();
  for (let i = 0; i < 12; i++) prngNext(st);
  return st;
}

/** Next uint32 (the words are kept as int32: the same bits). */
export function prngNext(st: PrngState): number {
  const a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!;
  const t = (((a + b) | 0) + d) | 0;
  st[3] = (d + 1) | 0;
  st[0] = b ^ (b >>> 9);
  st[1] = (c + (c << 3)) | 0;
  st[2] = (((c << 21) | (c >>> 11)) + t) | 0;
  return t >>> 0;
}

/** Integer in [lo, hi] inclusive. */
export function prngInt(st: PrngState, lo: number, hi: number): number {
  const span = hi - lo + 1;
  return lo + prngBelow(st, span, 1 / span);
}

/**
 * prngNext() % span, for a caller that keeps `inv` = 1 / span: the quotient
 * estimate from the reciprocal is off by at most one (its error is below
 * 2^-20), so the remainder is exact, without the floating-point `%` that a
 * uint32 above 2^31 compiles to or a division per call.
 */
export function prngBelow(st: PrngState, span: number, inv: number): number {
  const x = prngNext(st);
  let r = x - Math.floor(x * inv) * span;
  if (r < 0) r += span;
  else if (r >= span) r -= span;
  return r;
}
