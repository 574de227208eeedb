/**
 * Seeded PRNG (sfc32). The state is four 32-bit words, kept as int32 in the
 * fields of a plain object: it is cloned with the rest of the simulation
 * state by a snapshot, and an update is plain 32-bit integer arithmetic
 * that allocates nothing (small integers are stored in the object as they
 * are, without the bounds checks of a typed array's elements).
 */
export interface PrngState {
  a: number;
  b: number;
  c: number;
  d: number;
}

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
  const st: PrngState = { a: next() | 0, b: next() | 0, c: next() | 0, d: next() | 0 };
  for (let i = 0; i < 12; i++) prngNext(st);
  return st;
}

/** Next uint32 (the words are kept as int32: the same bits). */
export function prngNext(st: PrngState): number {
  const a = st.a,
    b = st.b,
    c = st.c,
    d = st.d;
  const t = (((a + b) | 0) + d) | 0;
  st.d = (d + 1) | 0;
  st.a = b ^ (b >>> 9);
  st.b = (c + (c << 3)) | 0;
  st.c = (((c << 21) | (c >>> 11)) + t) | 0;
  return t >>> 0;
}

/** Integer in [lo, hi] inclusive. */
export function prngInt(st: PrngState, lo: number, hi: number): number {
  const span = hi - lo + 1;
  return lo + prngBelow(st, span, 1 / span);
}

/** prngNext() % span, for a caller that keeps `inv` = 1 / span (see reduceBelow). */
export function prngBelow(st: PrngState, span: number, inv: number): number {
  return reduceBelow(prngNext(st), span, inv);
}

/**
 * x % span for a uint32 x, given inv = 1 / span: the quotient estimate from
 * the reciprocal is off by at most one (its error is below 2^-20), so the
 * remainder is exact, without the floating-point `%` that a uint32 above
 * 2^31 compiles to or a division per call.
 */
export function reduceBelow(x: number, span: number, inv: number): number {
  let r = x - Math.floor(x * inv) * span;
  if (r < 0) r += span;
  else if (r >= span) r -= span;
  return r;
}
