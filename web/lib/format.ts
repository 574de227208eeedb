/** Number and time formatting for the views. */

/** Virtual time in the unit that reads best: "0 ns", "950 ns", "12.35 µs", "1.032 ms", "2.000000 s". */
export function formatTime(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1_000_000) return `${(ns / 1000).toFixed(ns < 10_000 ? 2 : 1)} µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(3)} ms`;
  return `${(ns / 1_000_000_000).toFixed(6)} s`;
}

export function hex(v: number, digits = 8): string {
  return '0x' + (v >>> 0).toString(16).padStart(digits, '0');
}

export function hexShort(v: number): string {
  return '0x' + v.toString(16);
}

/** Page number → "0x10000"-style IOVA. */
export function iovaOf(ipfn: number): string {
  return '0x' + (ipfn * 4096).toString(16);
}
