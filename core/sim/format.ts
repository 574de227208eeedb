/**
 * Numbers as the kernel prints them: "0x%08x", "0x%016llx" from two words,
 * and addresses as "0x%lx". Every layer formats with these.
 */
export function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/** dw as "0x%016llx" from its two words. */
export function hex64(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

const HEX = new Map<number, string>();

/**
 * An address as the call records print it ("0x10000"). A run maps and
 * unmaps the same few IOVAs over and over, so the strings are kept.
 */
export function hexAddr(v: number): string {
  let s = HEX.get(v);
  if (s === undefined) {
    s = '0x' + v.toString(16);
    if (HEX.size < 4096) HEX.set(v, s);
  }
  return s;
}
