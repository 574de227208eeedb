/**
 * CMDQ command codec (Arm IHI 0070 §4; Linux arm-smmu-v3.h CMDQ_* fields).
 * A command is 16 bytes: two dwords, held as four uint32 words
 * [dw0[31:0], dw0[63:32], dw1[31:0], dw1[63:32]]. Encoding and decoding are
 * bit-exact for every field the model uses.
 */
import { field, getField, setField, type Field } from './bits.ts';

export const CMDQ_ENT_DWORDS = 2;
export const CMDQ_ENT_WORDS = 4;

export const CMDQ_OP_PREFETCH_CFG = 0x01;
export const CMDQ_OP_CFGI_STE = 0x03;
export const CMDQ_OP_CFGI_ALL = 0x04;
export const CMDQ_OP_CFGI_CD = 0x05;
export const CMDQ_OP_CFGI_CD_ALL = 0x06;
export const CMDQ_OP_TLBI_NH_ALL = 0x10;
export const CMDQ_OP_TLBI_NH_ASID = 0x11;
export const CMDQ_OP_TLBI_NH_VA = 0x12;
export const CMDQ_OP_TLBI_NH_VAA = 0x13;
export const CMDQ_OP_TLBI_EL2_ALL = 0x20;
export const CMDQ_OP_TLBI_EL2_ASID = 0x21;
export const CMDQ_OP_TLBI_EL2_VA = 0x22;
export const CMDQ_OP_TLBI_S12_VMALL = 0x28;
export const CMDQ_OP_TLBI_S2_IPA = 0x2a;
export const CMDQ_OP_TLBI_NSNH_ALL = 0x30;
export const CMDQ_OP_ATC_INV = 0x40;
export const CMDQ_OP_PRI_RESP = 0x41;
export const CMDQ_OP_RESUME = 0x44;
export const CMDQ_OP_CMD_SYNC = 0x46;

export const OPCODE_NAMES: Readonly<Record<number, string>> = {
  [CMDQ_OP_PREFETCH_CFG]: 'PREFETCH_CFG',
  [CMDQ_OP_CFGI_STE]: 'CFGI_STE',
  [CMDQ_OP_CFGI_ALL]: 'CFGI_ALL',
  [CMDQ_OP_CFGI_CD]: 'CFGI_CD',
  [CMDQ_OP_CFGI_CD_ALL]: 'CFGI_CD_ALL',
  [CMDQ_OP_TLBI_NH_ALL]: 'TLBI_NH_ALL',
  [CMDQ_OP_TLBI_NH_ASID]: 'TLBI_NH_ASID',
  [CMDQ_OP_TLBI_NH_VA]: 'TLBI_NH_VA',
  [CMDQ_OP_TLBI_NH_VAA]: 'TLBI_NH_VAA',
  [CMDQ_OP_TLBI_EL2_ALL]: 'TLBI_EL2_ALL',
  [CMDQ_OP_TLBI_EL2_ASID]: 'TLBI_EL2_ASID',
  [CMDQ_OP_TLBI_EL2_VA]: 'TLBI_EL2_VA',
  [CMDQ_OP_TLBI_S12_VMALL]: 'TLBI_S12_VMALL',
  [CMDQ_OP_TLBI_S2_IPA]: 'TLBI_S2_IPA',
  [CMDQ_OP_TLBI_NSNH_ALL]: 'TLBI_NSNH_ALL',
  [CMDQ_OP_ATC_INV]: 'ATC_INV',
  [CMDQ_OP_PRI_RESP]: 'PRI_RESP',
  [CMDQ_OP_RESUME]: 'RESUME',
  [CMDQ_OP_CMD_SYNC]: 'CMD_SYNC',
};
export const OPCODE_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(OPCODE_NAMES).map(([k, v]) => [v, Number(k)]),
);

export function opcodeName(op: number): string {
  return OPCODE_NAMES[op] ?? `UNKNOWN(0x${op.toString(16).padStart(2, '0')})`;
}

/* Field positions: dw index, hi, lo — as in arm-smmu-v3.h. */
export const CMDQ_0_OP = field('OP', 0, 7, 0);
export const CMDQ_0_SSV = field('SSV', 0, 11, 11);
export const CMDQ_PREFETCH_0_SID = field('SID', 0, 63, 32);
export const CMDQ_CFGI_0_SSID = field('SSID', 0, 31, 12);
export const CMDQ_CFGI_0_SID = field('SID', 0, 63, 32);
export const CMDQ_CFGI_1_LEAF = field('LEAF', 1, 0, 0);
export const CMDQ_CFGI_1_RANGE = field('RANGE', 1, 4, 0);
export const CMDQ_TLBI_0_NUM = field('NUM', 0, 16, 12);
export const CMDQ_TLBI_0_SCALE = field('SCALE', 0, 24, 20);
export const CMDQ_TLBI_0_VMID = field('VMID', 0, 47, 32);
export const CMDQ_TLBI_0_ASID = field('ASID', 0, 63, 48);
export const CMDQ_TLBI_1_LEAF = field('LEAF', 1, 0, 0);
export const CMDQ_TLBI_1_TTL = field('TTL', 1, 9, 8);
export const CMDQ_TLBI_1_TG = field('TG', 1, 11, 10);
export const CMDQ_TLBI_1_VA = field('VA', 1, 63, 12);
export const CMDQ_TLBI_1_IPA = field('IPA', 1, 51, 12);
export const CMDQ_ATC_0_GLOBAL = field('GLOBAL', 0, 9, 9);
export const CMDQ_ATC_0_SSID = field('SSID', 0, 31, 12);
export const CMDQ_ATC_0_SID = field('SID', 0, 63, 32);
export const CMDQ_ATC_1_SIZE = field('SIZE', 1, 5, 0);
export const CMDQ_ATC_1_ADDR = field('ADDR', 1, 63, 12);
export const CMDQ_PRI_0_SSID = field('SSID', 0, 31, 12);
export const CMDQ_PRI_0_SID = field('SID', 0, 63, 32);
export const CMDQ_PRI_1_GRPID = field('GRPID', 1, 8, 0);
export const CMDQ_PRI_1_RESP = field('RESP', 1, 13, 12);
export const CMDQ_RESUME_0_RESP = field('RESP', 0, 13, 12);
export const CMDQ_RESUME_0_SID = field('SID', 0, 63, 32);
export const CMDQ_RESUME_1_STAG = field('STAG', 1, 15, 0);
export const CMDQ_SYNC_0_CS = field('CS', 0, 13, 12);
export const CMDQ_SYNC_0_MSH = field('MSH', 0, 23, 22);
export const CMDQ_SYNC_0_MSIATTR = field('MSIATTR', 0, 27, 24);
export const CMDQ_SYNC_0_MSIDATA = field('MSIDATA', 0, 63, 32);
export const CMDQ_SYNC_1_MSIADDR = field('MSIADDR', 1, 51, 2);

export const CMDQ_SYNC_0_CS_NONE = 0;
export const CMDQ_SYNC_0_CS_IRQ = 1;
export const CMDQ_SYNC_0_CS_SEV = 2;
export const ARM_SMMU_SH_ISH = 3;
export const ARM_SMMU_MEMATTR_OIWB = 0xf;
export const ATC_INV_SIZE_ALL = 52;
export const CFGI_ALL_RANGE = 31;

/** A decoded command. Addresses are byte addresses (< 2^53). */
export interface Cmd {
  op: number;
  sid?: number;
  ssid?: number;
  ssv?: boolean;
  leaf?: boolean;
  range?: number;
  num?: number;
  scale?: number;
  vmid?: number;
  asid?: number;
  ttl?: number;
  tg?: number;
  addr?: number;
  size?: number;
  global?: boolean;
  grpid?: number;
  resp?: number;
  stag?: number;
  cs?: number;
  msh?: number;
  msiattr?: number;
  msidata?: number;
  msiaddr?: number;
}

/** Which fields each opcode carries (used by encode, decode and the views). */
const LAYOUT: Readonly<Record<number, ReadonlyArray<[keyof Cmd, Field, 'num' | 'bool' | 'addr4k' | 'addr4']>>> = {
  [CMDQ_OP_PREFETCH_CFG]: [['sid', CMDQ_PREFETCH_0_SID, 'num']],
  [CMDQ_OP_CFGI_STE]: [
    ['sid', CMDQ_CFGI_0_SID, 'num'],
    ['leaf', CMDQ_CFGI_1_LEAF, 'bool'],
  ],
  [CMDQ_OP_CFGI_ALL]: [['range', CMDQ_CFGI_1_RANGE, 'num']],
  [CMDQ_OP_CFGI_CD]: [
    ['sid', CMDQ_CFGI_0_SID, 'num'],
    ['ssid', CMDQ_CFGI_0_SSID, 'num'],
    ['ssv', CMDQ_0_SSV, 'bool'],
    ['leaf', CMDQ_CFGI_1_LEAF, 'bool'],
  ],
  [CMDQ_OP_CFGI_CD_ALL]: [['sid', CMDQ_CFGI_0_SID, 'num']],
  [CMDQ_OP_TLBI_NH_ALL]: [['vmid', CMDQ_TLBI_0_VMID, 'num']],
  [CMDQ_OP_TLBI_NH_ASID]: [
    ['asid', CMDQ_TLBI_0_ASID, 'num'],
    ['vmid', CMDQ_TLBI_0_VMID, 'num'],
  ],
  [CMDQ_OP_TLBI_NH_VA]: [
    ['num', CMDQ_TLBI_0_NUM, 'num'],
    ['scale', CMDQ_TLBI_0_SCALE, 'num'],
    ['vmid', CMDQ_TLBI_0_VMID, 'num'],
    ['asid', CMDQ_TLBI_0_ASID, 'num'],
    ['leaf', CMDQ_TLBI_1_LEAF, 'bool'],
    ['ttl', CMDQ_TLBI_1_TTL, 'num'],
    ['tg', CMDQ_TLBI_1_TG, 'num'],
    ['addr', CMDQ_TLBI_1_VA, 'addr4k'],
  ],
  [CMDQ_OP_TLBI_NH_VAA]: [
    ['num', CMDQ_TLBI_0_NUM, 'num'],
    ['scale', CMDQ_TLBI_0_SCALE, 'num'],
    ['vmid', CMDQ_TLBI_0_VMID, 'num'],
    ['leaf', CMDQ_TLBI_1_LEAF, 'bool'],
    ['ttl', CMDQ_TLBI_1_TTL, 'num'],
    ['tg', CMDQ_TLBI_1_TG, 'num'],
    ['addr', CMDQ_TLBI_1_VA, 'addr4k'],
  ],
  [CMDQ_OP_TLBI_EL2_ALL]: [],
  [CMDQ_OP_TLBI_EL2_ASID]: [['asid', CMDQ_TLBI_0_ASID, 'num']],
  [CMDQ_OP_TLBI_EL2_VA]: [
    ['num', CMDQ_TLBI_0_NUM, 'num'],
    ['scale', CMDQ_TLBI_0_SCALE, 'num'],
    ['asid', CMDQ_TLBI_0_ASID, 'num'],
    ['leaf', CMDQ_TLBI_1_LEAF, 'bool'],
    ['ttl', CMDQ_TLBI_1_TTL, 'num'],
    ['tg', CMDQ_TLBI_1_TG, 'num'],
    ['addr', CMDQ_TLBI_1_VA, 'addr4k'],
  ],
  [CMDQ_OP_TLBI_S12_VMALL]: [['vmid', CMDQ_TLBI_0_VMID, 'num']],
  [CMDQ_OP_TLBI_S2_IPA]: [
    ['num', CMDQ_TLBI_0_NUM, 'num'],
    ['scale', CMDQ_TLBI_0_SCALE, 'num'],
    ['vmid', CMDQ_TLBI_0_VMID, 'num'],
    ['leaf', CMDQ_TLBI_1_LEAF, 'bool'],
    ['ttl', CMDQ_TLBI_1_TTL, 'num'],
    ['tg', CMDQ_TLBI_1_TG, 'num'],
    ['addr', CMDQ_TLBI_1_IPA, 'addr4k'],
  ],
  [CMDQ_OP_TLBI_NSNH_ALL]: [],
  [CMDQ_OP_ATC_INV]: [
    ['sid', CMDQ_ATC_0_SID, 'num'],
    ['ssid', CMDQ_ATC_0_SSID, 'num'],
    ['ssv', CMDQ_0_SSV, 'bool'],
    ['global', CMDQ_ATC_0_GLOBAL, 'bool'],
    ['size', CMDQ_ATC_1_SIZE, 'num'],
    ['addr', CMDQ_ATC_1_ADDR, 'addr4k'],
  ],
  [CMDQ_OP_PRI_RESP]: [
    ['sid', CMDQ_PRI_0_SID, 'num'],
    ['ssid', CMDQ_PRI_0_SSID, 'num'],
    ['ssv', CMDQ_0_SSV, 'bool'],
    ['grpid', CMDQ_PRI_1_GRPID, 'num'],
    ['resp', CMDQ_PRI_1_RESP, 'num'],
  ],
  [CMDQ_OP_RESUME]: [
    ['sid', CMDQ_RESUME_0_SID, 'num'],
    ['resp', CMDQ_RESUME_0_RESP, 'num'],
    ['stag', CMDQ_RESUME_1_STAG, 'num'],
  ],
  [CMDQ_OP_CMD_SYNC]: [
    ['cs', CMDQ_SYNC_0_CS, 'num'],
    ['msh', CMDQ_SYNC_0_MSH, 'num'],
    ['msiattr', CMDQ_SYNC_0_MSIATTR, 'num'],
    ['msidata', CMDQ_SYNC_0_MSIDATA, 'num'],
    ['msiaddr', CMDQ_SYNC_1_MSIADDR, 'addr4'],
  ],
};

const KNOWN = new Uint8Array(256);
for (const k of Object.keys(LAYOUT)) KNOWN[Number(k)] = 1;

export function isKnownOpcode(op: number): boolean {
  return KNOWN[op & 0xff] === 1;
}

const TWO20 = 0x10_0000;
const TWO32 = 0x1_0000_0000;

/**
 * Direct encoders for the commands the driver issues most; the result is
 * bit-identical to the field-table encoder below (checked by the codec tests).
 */
function encodeFast(cmd: Cmd, out: Uint32Array | number[], b: number): boolean {
  switch (cmd.op) {
    case CMDQ_OP_ATC_INV: {
      const pfn = Math.floor((cmd.addr ?? 0) / 4096);
      out[b] =
        (CMDQ_OP_ATC_INV | (cmd.global ? 1 << 9 : 0) | (cmd.ssv ? 1 << 11 : 0) | (((cmd.ssid ?? 0) & 0xfffff) << 12)) >>> 0;
      out[b + 1] = (cmd.sid ?? 0) >>> 0;
      out[b + 2] = (((pfn % TWO20) << 12) | ((cmd.size ?? 0) & 0x3f)) >>> 0;
      out[b + 3] = Math.floor(pfn / TWO20) >>> 0;
      return true;
    }
    case CMDQ_OP_TLBI_NH_VA: {
      const pfn = Math.floor((cmd.addr ?? 0) / 4096);
      out[b] = (CMDQ_OP_TLBI_NH_VA | (((cmd.num ?? 0) & 0x1f) << 12) | (((cmd.scale ?? 0) & 0x1f) << 20)) >>> 0;
      out[b + 1] = (((cmd.vmid ?? 0) & 0xffff) | (((cmd.asid ?? 0) & 0xffff) << 16)) >>> 0;
      out[b + 2] = ((cmd.leaf ? 1 : 0) | (((cmd.ttl ?? 0) & 3) << 8) | (((cmd.tg ?? 0) & 3) << 10) | ((pfn % TWO20) << 12)) >>> 0;
      out[b + 3] = Math.floor(pfn / TWO20) >>> 0;
      return true;
    }
    case CMDQ_OP_CFGI_STE:
      out[b] = CMDQ_OP_CFGI_STE;
      out[b + 1] = (cmd.sid ?? 0) >>> 0;
      out[b + 2] = cmd.leaf ? 1 : 0;
      out[b + 3] = 0;
      return true;
    case CMDQ_OP_CMD_SYNC: {
      const a = cmd.msiaddr ?? 0;
      out[b] =
        (CMDQ_OP_CMD_SYNC | (((cmd.cs ?? 0) & 3) << 12) | (((cmd.msh ?? 0) & 3) << 22) | (((cmd.msiattr ?? 0) & 0xf) << 24)) >>>
        0;
      out[b + 1] = (cmd.msidata ?? 0) >>> 0;
      out[b + 2] = ((a % TWO32) & 0xfffffffc) >>> 0;
      out[b + 3] = Math.floor(a / TWO32) & 0xfffff;
      return true;
    }
    default:
      return false;
  }
}

/** Encode `cmd` into words[base..base+3]. */
export function encodeCmdInto(cmd: Cmd, words: Uint32Array | number[], base: number): void {
  if (encodeFast(cmd, words, base)) return;
  const tmp = words instanceof Uint32Array ? words : new Uint32Array(4);
  const b = words instanceof Uint32Array ? base : 0;
  tmp[b] = 0;
  tmp[b + 1] = 0;
  tmp[b + 2] = 0;
  tmp[b + 3] = 0;
  setField(tmp, b, CMDQ_0_OP, cmd.op);
  for (const [key, f, kind] of LAYOUT[cmd.op] ?? []) {
    const v = cmd[key];
    if (v === undefined) continue;
    let n: number;
    if (kind === 'bool') n = v ? 1 : 0;
    else if (kind === 'addr4k') n = Math.floor((v as number) / 4096);
    else if (kind === 'addr4') n = Math.floor((v as number) / 4);
    else n = v as number;
    setField(tmp, b, f, n);
  }
  if (!(words instanceof Uint32Array)) {
    words[base] = tmp[0]!;
    words[base + 1] = tmp[1]!;
    words[base + 2] = tmp[2]!;
    words[base + 3] = tmp[3]!;
  }
}

export function encodeCmd(cmd: Cmd): number[] {
  const out = [0, 0, 0, 0];
  encodeCmdInto(cmd, out, 0);
  return out;
}

/** The opcode and StreamID of the command at words[base..] without a full decode. */
export function cmdOp(words: Uint32Array | readonly number[], base = 0): number {
  return words[base]! & 0xff;
}
export function cmdSid(words: Uint32Array | readonly number[], base = 0): number {
  return words[base + 1]! >>> 0;
}

/** Decode the command at words[base..base+3]. Unknown opcodes decode to {op}. */
export function decodeCmd(words: Uint32Array | readonly number[], base = 0): Cmd {
  const a = words instanceof Uint32Array ? words : Uint32Array.from(words.slice(base, base + 4));
  const b = words instanceof Uint32Array ? base : 0;
  const op = getField(a, b, CMDQ_0_OP);
  const cmd: Cmd = { op };
  for (const [key, f, kind] of LAYOUT[op] ?? []) {
    const n = getField(a, b, f);
    const rec = cmd as unknown as Record<string, number | boolean>;
    if (kind === 'bool') rec[key] = n === 1;
    else if (kind === 'addr4k') rec[key] = n * 4096;
    else if (kind === 'addr4') rec[key] = n * 4;
    else rec[key] = n;
  }
  return cmd;
}

/** The fields an opcode carries, in layout order (for a decoded view). */
export function cmdFieldNames(op: number): Array<keyof Cmd> {
  return (LAYOUT[op] ?? []).map(([k]) => k);
}

/* Builders used by the driver model (arm_smmu_make_cmd_* in the kernel). */

export function makeCmdSync(cs = CMDQ_SYNC_0_CS_SEV): Cmd {
  return { op: CMDQ_OP_CMD_SYNC, cs, msh: ARM_SMMU_SH_ISH, msiattr: ARM_SMMU_MEMATTR_OIWB, msidata: 0, msiaddr: 0 };
}
export function makeCmdCfgiSte(sid: number, leaf: boolean): Cmd {
  return { op: CMDQ_OP_CFGI_STE, sid, leaf };
}
/** CMD_PREFETCH_CONFIG for a StreamID (arm_smmu_write_ste()'s "we'll want to use the new STE soon"). */
export function makeCmdPrefetchCfg(sid: number): Cmd {
  return { op: CMDQ_OP_PREFETCH_CFG, sid };
}
export function makeCmdCfgiAll(): Cmd {
  return { op: CMDQ_OP_CFGI_ALL, range: CFGI_ALL_RANGE };
}
export function makeCmdTlbiNhAsid(asid: number): Cmd {
  return { op: CMDQ_OP_TLBI_NH_ASID, asid, vmid: 0 };
}

/**
 * TLBI_NH_VA for [iova, iova + pages * 4K): a range invalidation with
 * NUM/SCALE (ARM_SMMU_FEAT_RANGE_INV), TG = 4K, leaf.
 */
export function makeCmdTlbiNhVa(asid: number, iova: number, pages: number): Cmd {
  const scale = tlbiRangeScale(pages);
  const num = tlbiRangeNum(pages, scale);
  return { op: CMDQ_OP_TLBI_NH_VA, asid, vmid: 0, num, scale, leaf: true, ttl: 0, tg: 1, addr: iova };
}

/** range = (NUM + 1) * 2^SCALE pages: the smallest exact encoding's SCALE. */
function tlbiRangeScale(pages: number): number {
  let scale = 0;
  let n = pages;
  while (n > 32 && n % 2 === 0) {
    n /= 2;
    scale++;
  }
  return scale;
}

/** The NUM that goes with tlbiRangeScale(pages). */
function tlbiRangeNum(pages: number, scale: number): number {
  return Math.max(0, Math.min(31, pages / 2 ** scale - 1));
}

/**
 * arm_smmu_atc_inv_to_cmd(): an ATC_INV covering [iova, iova+size). size 0
 * means "everything" (ATC_INV_SIZE_ALL). The range is rounded to a naturally
 * aligned power of two: log2_span = fls(first_page ^ last_page).
 */
export function makeCmdAtcInv(sid: number, ssid: number, iova: number, size: number): Cmd {
  const ssv = ssid !== 0;
  if (size === 0) return { op: CMDQ_OP_ATC_INV, sid, ssid, ssv, global: false, size: ATC_INV_SIZE_ALL, addr: 0 };
  const [log2Span, pageStart] = atcInvSpan(iova, size);
  return { op: CMDQ_OP_ATC_INV, sid, ssid, ssv, global: false, size: log2Span, addr: pageStart * 4096 };
}

/**
 * fls(first_page ^ last_page) and the first page aligned down to that span,
 * for page numbers up to 2^53 (JavaScript's bitwise operators are 32-bit, so
 * the high and low halves are taken separately).
 */
export function atcInvSpan(iova: number, size: number): [log2Span: number, pageStart: number] {
  const first = Math.floor(iova / 4096);
  const last = Math.floor((iova + size - 1) / 4096);
  const hi = (Math.floor(first / TWO32) ^ Math.floor(last / TWO32)) >>> 0;
  const lo = ((first % TWO32) ^ (last % TWO32)) >>> 0;
  const log2Span = hi !== 0 ? 64 - Math.clz32(hi) : lo !== 0 ? 32 - Math.clz32(lo) : 0;
  return [log2Span, first - (first % 2 ** log2Span)];
}

/**
 * Append an ATC_INV (arm_smmu_atc_inv_to_cmd()) to a flat word array without
 * building a Cmd object: the driver's hot path. Same bits as makeCmdAtcInv + encodeCmd.
 */
export function appendAtcInv(
  out: number[] | Uint32Array,
  at: number,
  sid: number,
  ssid: number,
  iova: number,
  size: number,
): void {
  let log2Span = ATC_INV_SIZE_ALL;
  let pageStart = 0;
  if (size !== 0) [log2Span, pageStart] = atcInvSpan(iova, size);
  out[at] = (CMDQ_OP_ATC_INV | (ssid !== 0 ? 1 << 11 : 0) | ((ssid & 0xfffff) << 12)) >>> 0;
  out[at + 1] = sid >>> 0;
  out[at + 2] = (((pageStart % TWO20) << 12) | log2Span) >>> 0;
  out[at + 3] = Math.floor(pageStart / TWO20) >>> 0;
}

/** Append a TLBI_NH_VA for `pages` pages at `iova` (same bits as makeCmdTlbiNhVa + encodeCmd). */
export function appendTlbiNhVa(out: number[] | Uint32Array, at: number, asid: number, iova: number, pages: number): void {
  // encodeFast()'s TLBI_NH_VA case for makeCmdTlbiNhVa()'s fields (VMID 0, leaf, TTL 0, TG 4K), without the Cmd object.
  const scale = tlbiRangeScale(pages);
  const num = tlbiRangeNum(pages, scale);
  const pfn = Math.floor(iova / 4096);
  out[at] = (CMDQ_OP_TLBI_NH_VA | ((num & 0x1f) << 12) | ((scale & 0x1f) << 20)) >>> 0;
  out[at + 1] = ((asid & 0xffff) << 16) >>> 0;
  out[at + 2] = (1 | (1 << 10) | ((pfn % TWO20) << 12)) >>> 0;
  out[at + 3] = Math.floor(pfn / TWO20) >>> 0;
}

/** [first, last] 4K page numbers an ATC_INV covers. */
export function atcInvPageRange(cmd: Cmd): [number, number] {
  if ((cmd.size ?? 0) >= ATC_INV_SIZE_ALL) return [0, Number.MAX_SAFE_INTEGER];
  const first = Math.floor((cmd.addr ?? 0) / 4096);
  return [first, first + 2 ** (cmd.size ?? 0) - 1];
}

/*
 * An ATC_INV's fields straight from its words, for the consumer and the
 * endpoint that answers it (no Cmd object on the invalidation path).
 */

/** CMDQ_ATC_0_SSID of word 0. */
export function atcInvSsid(w0: number): number {
  return (w0 >>> 12) & 0xfffff;
}
/** CMDQ_0_SSV of word 0. */
export function atcInvSsv(w0: number): boolean {
  return ((w0 >>> 11) & 1) === 1;
}

/** The first 4K page an ATC_INV covers, from words 2 and 3 (0 for the whole ATC). */
export function atcInvFirst(w2: number, w3: number): number {
  return (w2 & 0x3f) >= ATC_INV_SIZE_ALL ? 0 : (w2 >>> 12) + w3 * 0x100000;
}

/** The last 4K page an ATC_INV covers, from words 2 and 3 (MAX_SAFE_INTEGER for the whole ATC). */
export function atcInvLast(w2: number, w3: number): number {
  const size = w2 & 0x3f;
  if (size >= ATC_INV_SIZE_ALL) return Number.MAX_SAFE_INTEGER;
  return (w2 >>> 12) + w3 * 0x100000 + (size < 31 ? 1 << size : 2 ** size) - 1;
}

/** One-line human description, e.g. "ATC_INV sid=0x100 ssid=0 addr=0x10000 size=2". */
export function describeCmd(cmd: Cmd): string {
  const parts = [opcodeName(cmd.op)];
  for (const k of cmdFieldNames(cmd.op)) {
    const v = cmd[k];
    if (v === undefined) continue;
    if (k === 'sid' || k === 'addr' || k === 'msiaddr') parts.push(`${k}=0x${(v as number).toString(16)}`);
    else parts.push(`${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`);
  }
  return parts.join(' ');
}
