/**
 * Seeded PRNG (sfc32). The state is four uint32 in a plain object so it is
 * cloned with the rest of the simulation state by a snapshot.
 */
export interface PrngState { a: number; b: number; c: number; d: number }

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
  const st = { a: next(), b: next(), c: next(), d: next() };
  for (let i = 0; i < 12; i++) prngNext(st);
  return st;
}

/** Next uint32. */
export function prngNext(st: PrngState): number {
  const t = (((st.a + st.b) >>> 0) + st.d) >>> 0;
  st.d = (st.d + 1) >>> 0;
  st.a = st.b ^ (st.b >>> 9);
  st.b = (st.c + (st.c << 3)) >>> 0;
  st.c = ((st.c << 21) | (st.c >>> 11)) >>> 0;
  st.c = (st.c + t) >>> 0;
  return t;
}

/** Integer in [lo, hi] inclusive. */
export function prngInt(st: PrngState, lo: number, hi: number): number {
  const span = hi - lo + 1;
  return lo + (prngNext(st) % span);
}
