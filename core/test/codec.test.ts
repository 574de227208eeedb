/**
 * Bit-level codecs checked against the fact sheet (docs: smmu-facts.md):
 * command layout (§2), arm_smmu_atc_inv_to_cmd() range rounding (§2, LC),
 * queue pointer macros (§1, LH), GERROR/CERROR (§1), STE and CD fields (§3).
 *
 * The expected bit positions are written out here from the fact sheet, not
 * taken from the codec's own field tables, so a wrong shift or width in the
 * codec shows up as a mismatch.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ARM_SMMU_MEMATTR_OIWB,
  ARM_SMMU_SH_ISH,
  ATC_INV_SIZE_ALL,
  CFGI_ALL_RANGE,
  CMDQ_OP_ATC_INV,
  CMDQ_OP_CFGI_ALL,
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_CMD_SYNC,
  CMDQ_OP_TLBI_NH_ASID,
  CMDQ_OP_TLBI_NH_VA,
  CMDQ_SYNC_0_CS_IRQ,
  CMDQ_SYNC_0_CS_NONE,
  CMDQ_SYNC_0_CS_SEV,
  OPCODE_BY_NAME,
  OPCODE_NAMES,
  appendTlbiNhVa,
  atcInvPageRange,
  cmdFieldNames,
  decodeCmd,
  describeCmd,
  encodeCmd,
  encodeCmdInto,
  makeCmdAtcInv,
  makeCmdCfgiAll,
  makeCmdCfgiSte,
  makeCmdSync,
  makeCmdTlbiNhAsid,
  makeCmdTlbiNhVa,
  opcodeName,
  type Cmd,
} from '../hw/cmd.ts';
import {
  ARM_SMMU_CMDQ_BASE,
  ARM_SMMU_CMDQ_CONS,
  ARM_SMMU_CMDQ_PROD,
  ARM_SMMU_CR0,
  ARM_SMMU_CR0ACK,
  ARM_SMMU_EVTQ_BASE,
  ARM_SMMU_EVTQ_CONS,
  ARM_SMMU_EVTQ_PROD,
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  ARM_SMMU_IDR0,
  ARM_SMMU_IDR1,
  ARM_SMMU_IRQ_CTRL,
  ARM_SMMU_IRQ_CTRLACK,
  ARM_SMMU_STRTAB_BASE,
  ARM_SMMU_STRTAB_BASE_CFG,
  CERROR_NAMES,
  CMDQ_CONS_ERR_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CMDQ_ERR_CERROR_ABT_IDX,
  CMDQ_ERR_CERROR_ATC_INV_IDX,
  CMDQ_ERR_CERROR_ILL_IDX,
  CMDQ_ERR_CERROR_NONE_IDX,
  CR0_ATSCHK,
  CR0_CMDQEN,
  CR0_EVTQEN,
  CR0_PRIQEN,
  CR0_SMMUEN,
  GERROR_BITS,
  GERROR_CMDQ_ERR,
  GERROR_ERR_MASK,
  GERROR_EVTQ_ABT_ERR,
  GERROR_MSI_CMDQ_ABT_ERR,
  GERROR_MSI_EVTQ_ABT_ERR,
  GERROR_MSI_GERROR_ABT_ERR,
  GERROR_MSI_PRIQ_ABT_ERR,
  GERROR_PRIQ_ABT_ERR,
  GERROR_SFM_ERR,
  IDR0_ATS,
  IDR0_MSI,
  IDR0_PRI,
  IDR0_S1P,
  IDR0_S2P,
  IDR0_SEV,
  IDR1_CMDQS_SHIFT,
  IDR1_EVTQS_SHIFT,
  IDR1_SIDSIZE_SHIFT,
  IDR1_SSIDSIZE_SHIFT,
  IRQ_CTRL_EVTQ_IRQEN,
  IRQ_CTRL_GERROR_IRQEN,
  IRQ_CTRL_PRIQ_IRQEN,
  Q_IDX,
  Q_WRP,
  cerrorName,
  cerrorStr,
  queueConsumed,
  queueEmpty,
  queueFull,
  queueIncN,
  queueSpace,
} from '../hw/regs.ts';
import {
  CD_WORDS,
  STE_WORDS,
  STRTAB_STE_0_CFG_ABORT,
  STRTAB_STE_0_CFG_BYPASS,
  STRTAB_STE_0_CFG_NESTED,
  STRTAB_STE_0_CFG_S1_TRANS,
  STRTAB_STE_0_CFG_S2_TRANS,
  STRTAB_STE_1_EATS_ABT,
  STRTAB_STE_1_EATS_S1CHK,
  STRTAB_STE_1_EATS_TRANS,
  readCd,
  readSte,
  setSteEats,
  steEats,
  writeCd,
  writeSte,
  type SteFields,
} from '../hw/ste.ts';
import { NVME, run, scenario } from './support.ts';

/* ------------------------------------------------------------ helpers */

/** A field as smmu-facts writes it: dw index and bit range [hi:lo]. */
interface Pos {
  dw: 0 | 1;
  hi: number;
  lo: number;
  kind: 'num' | 'bool' | 'addr';
}
const P = (dw: 0 | 1, hi: number, lo: number, kind: Pos['kind'] = 'num'): Pos => ({ dw, hi, lo, kind });

/** Words [dw0 lo, dw0 hi, dw1 lo, dw1 hi] from two 64-bit dwords. */
function words(dw0: bigint, dw1: bigint): number[] {
  const m = 0xffff_ffffn;
  return [Number(dw0 & m), Number((dw0 >> 32n) & m), Number(dw1 & m), Number((dw1 >> 32n) & m)];
}
function dwOf(w: readonly number[], i: 0 | 1): bigint {
  return (BigInt(w[2 * i + 1]! >>> 0) << 32n) | BigInt(w[2 * i]! >>> 0);
}
const ones = (width: number): bigint => (1n << BigInt(width)) - 1n;

/*
 * smmu-facts §2 "Field positions", per opcode. PREFETCH_CFG's SID is
 * CMDQ_PREFETCH_0_SID = GENMASK_ULL(63, 32) in arm-smmu-v3.h. Address fields
 * carry the byte address bits in place (TLBI VA dw1[63:12], IPA dw1[51:12],
 * ATC ADDR dw1[63:12], CMD_SYNC MSIADDR dw1[51:2]).
 */
const CFGI = { ssid: P(0, 31, 12), sid: P(0, 63, 32), ssv: P(0, 11, 11, 'bool'), leaf: P(1, 0, 0, 'bool'), range: P(1, 4, 0) };
const TLBI = {
  num: P(0, 16, 12),
  scale: P(0, 24, 20),
  vmid: P(0, 47, 32),
  asid: P(0, 63, 48),
  leaf: P(1, 0, 0, 'bool'),
  ttl: P(1, 9, 8),
  tg: P(1, 11, 10),
  addr: P(1, 63, 12, 'addr'),
};
const pick = <T extends Record<string, Pos>>(o: T, ...k: Array<keyof T>): Record<string, Pos> =>
  Object.fromEntries(k.map((x) => [x, o[x]!]));

const SPEC: Record<string, Record<string, Pos>> = {
  PREFETCH_CFG: { sid: P(0, 63, 32) },
  CFGI_STE: pick(CFGI, 'sid', 'leaf'),
  CFGI_ALL: pick(CFGI, 'range'),
  CFGI_CD: pick(CFGI, 'sid', 'ssid', 'ssv', 'leaf'),
  CFGI_CD_ALL: pick(CFGI, 'sid'),
  TLBI_NH_ALL: pick(TLBI, 'vmid'),
  TLBI_NH_ASID: pick(TLBI, 'asid', 'vmid'),
  TLBI_NH_VA: pick(TLBI, 'num', 'scale', 'vmid', 'asid', 'leaf', 'ttl', 'tg', 'addr'),
  TLBI_NH_VAA: pick(TLBI, 'num', 'scale', 'vmid', 'leaf', 'ttl', 'tg', 'addr'),
  TLBI_EL2_ALL: {},
  TLBI_EL2_ASID: pick(TLBI, 'asid'),
  TLBI_EL2_VA: pick(TLBI, 'num', 'scale', 'asid', 'leaf', 'ttl', 'tg', 'addr'),
  TLBI_S12_VMALL: pick(TLBI, 'vmid'),
  TLBI_S2_IPA: { ...pick(TLBI, 'num', 'scale', 'vmid', 'leaf', 'ttl', 'tg'), addr: P(1, 51, 12, 'addr') },
  TLBI_NSNH_ALL: {},
  ATC_INV: {
    global: P(0, 9, 9, 'bool'),
    ssv: P(0, 11, 11, 'bool'),
    ssid: P(0, 31, 12),
    sid: P(0, 63, 32),
    size: P(1, 5, 0),
    addr: P(1, 63, 12, 'addr'),
  },
  PRI_RESP: { ssv: P(0, 11, 11, 'bool'), ssid: P(0, 31, 12), sid: P(0, 63, 32), grpid: P(1, 8, 0), resp: P(1, 13, 12) },
  RESUME: { resp: P(0, 13, 12), sid: P(0, 63, 32), stag: P(1, 15, 0) },
  CMD_SYNC: { cs: P(0, 13, 12), msh: P(0, 23, 22), msiattr: P(0, 27, 24), msidata: P(0, 63, 32), msiaddr: P(1, 51, 2, 'addr') },
};

/** smmu-facts §2 opcode table. */
const SPEC_OPCODES: Record<string, number> = {
  PREFETCH_CFG: 0x01,
  CFGI_STE: 0x03,
  CFGI_ALL: 0x04,
  CFGI_CD: 0x05,
  CFGI_CD_ALL: 0x06,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_EL2_ALL: 0x20,
  TLBI_EL2_ASID: 0x21,
  TLBI_EL2_VA: 0x22,
  TLBI_S12_VMALL: 0x28,
  TLBI_S2_IPA: 0x2a,
  TLBI_NSNH_ALL: 0x30,
  ATC_INV: 0x40,
  PRI_RESP: 0x41,
  RESUME: 0x44,
  CMD_SYNC: 0x46,
};

/**
 * Build a command whose every field holds `pattern` (cut to the field's
 * width) and the dwords the fact sheet says it encodes to. With `fullAddr`
 * false, address fields keep only the bits below 2^53, the range `Cmd`
 * documents for byte addresses (core/hw/cmd.ts).
 */
function patterned(name: string, pattern: bigint, fullAddr = false): { cmd: Cmd; w: number[] } {
  const op = OPCODE_BY_NAME[name]!;
  let dw0 = BigInt(op),
    dw1 = 0n;
  const cmd: Record<string, number | boolean> = { op };
  for (const [key, pos] of Object.entries(SPEC[name]!)) {
    const width = pos.kind === 'addr' && !fullAddr ? Math.min(pos.hi, 52) - pos.lo + 1 : pos.hi - pos.lo + 1;
    const v = pattern & ones(width);
    if (pos.dw === 0) dw0 |= v << BigInt(pos.lo);
    else dw1 |= v << BigInt(pos.lo);
    cmd[key] = pos.kind === 'bool' ? v === 1n : pos.kind === 'addr' ? Number(v << BigInt(pos.lo)) : Number(v);
  }
  return { cmd: cmd as unknown as Cmd, w: words(dw0, dw1) };
}

const PATTERNS: Array<[string, bigint]> = [
  ['all ones (field maximum)', (1n << 64n) - 1n],
  ['0b0101…', 0x5555_5555_5555_5555n],
  ['0b1010…', 0xaaaa_aaaa_aaaa_aaaan],
  ['zero', 0n],
];

/* ------------------------------------------------------------ opcodes */

describe('command opcodes (smmu-facts §2)', () => {
  it('OPCODE_NAMES holds exactly the opcode values of the fact sheet', () => {
    const got = Object.fromEntries(Object.entries(OPCODE_NAMES).map(([v, n]) => [n, Number(v)]));
    expect(got).toEqual(SPEC_OPCODES);
    expect(OPCODE_BY_NAME).toEqual(SPEC_OPCODES);
  });

  it('each opcode carries exactly the fields the fact sheet lists for it', () => {
    for (const [v, name] of Object.entries(OPCODE_NAMES)) {
      expect([...cmdFieldNames(Number(v))].sort(), name).toEqual(Object.keys(SPEC[name]!).sort());
    }
  });

  it('unknown opcodes have a visible name and decode to the opcode alone', () => {
    expect(opcodeName(0x7f)).toBe('UNKNOWN(0x7f)');
    expect(opcodeName(0x46)).toBe('CMD_SYNC');
    expect(decodeCmd([0xffff_ff7f, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff])).toEqual({ op: 0x7f });
  });
});

describe('command encode/decode round trip, bit-exact, every opcode of OPCODE_NAMES', () => {
  for (const name of Object.values(OPCODE_NAMES)) {
    for (const [label, pattern] of PATTERNS) {
      it(`${name}: fields ${label}`, () => {
        const { cmd, w } = patterned(name, pattern);
        const enc = encodeCmd(cmd);
        expect(
          enc.map((x) => '0x' + x.toString(16)),
          'encode',
        ).toEqual(w.map((x) => '0x' + x.toString(16)));
        expect(decodeCmd(enc), 'decode(encode(cmd))').toEqual(cmd);
        expect(encodeCmd(decodeCmd(w)), 'encode(decode(words))').toEqual(w);
      });
    }
  }

  it('random field values round trip for every opcode (property)', () => {
    const names = Object.values(OPCODE_NAMES);
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (name, pattern) => {
        const { cmd, w } = patterned(name, pattern);
        expect(encodeCmd(cmd)).toEqual(w);
        expect(decodeCmd(w)).toEqual(cmd);
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it('raw dwords with address bits 63:53 set (a raw `cmd` step) decode to a non-negative address and re-encode bit-exactly', () => {
    // SCENARIO-FORMAT.md step op `cmd` takes any two raw dwords; TLBI VA and ATC ADDR are dw1[63:12] (smmu-facts §2).
    for (const name of ['ATC_INV', 'TLBI_NH_VA', 'TLBI_NH_VAA', 'TLBI_EL2_VA']) {
      for (const [label, pattern] of PATTERNS) {
        const { cmd, w } = patterned(name, pattern, true);
        const d = decodeCmd(w);
        expect(d.addr, `${name} ${label}: decoded address`).toBe(cmd.addr);
        expect(d.addr!, `${name} ${label}`).toBeGreaterThanOrEqual(0);
        expect(encodeCmd(d), `${name} ${label}: re-encoded`).toEqual(w);
        expect(describeCmd(d), `${name} ${label}: description`).not.toMatch(/addr=0x-/);
      }
    }
  });

  it('encodeCmdInto writes only its own four words; decodeCmd reads at a base offset', () => {
    const { cmd, w } = patterned('ATC_INV', (1n << 64n) - 1n);
    const ring = new Uint32Array(12).fill(0xdead_beef);
    encodeCmdInto(cmd, ring, 4);
    expect([...ring.slice(0, 4)]).toEqual(new Array(4).fill(0xdead_beef));
    expect([...ring.slice(4, 8)]).toEqual(w);
    expect([...ring.slice(8)]).toEqual(new Array(4).fill(0xdead_beef));
    expect(decodeCmd(ring, 4)).toEqual(cmd);
    // A plain array target behaves the same.
    const arr = new Array<number>(8).fill(7);
    encodeCmdInto(cmd, arr, 2);
    expect(arr).toEqual([7, 7, ...w, 7, 7]);
    // A re-encode clears the slot first (no stale bits from the previous command).
    encodeCmdInto({ op: CMDQ_OP_CFGI_ALL, range: 31 }, ring, 4);
    expect([...ring.slice(4, 8)]).toEqual([0x04, 0, 31, 0]);
  });
});

describe('individual field positions (smmu-facts §2)', () => {
  it('ATC_INV with SID 0x100: opcode in dw0[7:0], SID in dw0[63:32]', () => {
    const w = encodeCmd(makeCmdAtcInv(0x100, 0, 0x10000, 0x2000));
    expect(w[0]! & 0xff).toBe(0x40);
    expect(w[1]).toBe(0x100);
    expect(dwOf(w, 0) >> 32n).toBe(0x100n);
    // SSV (bit 11) clear for SSID 0; SIZE = 1 in dw1[5:0]; ADDR 0x10000 in dw1[63:12].
    expect((w[0]! >>> 11) & 1).toBe(0);
    expect(w[2]! & 0x3f).toBe(1);
    expect(dwOf(w, 1) & ~0xfffn).toBe(0x10000n);
  });

  it('ATC_INV with a PASID sets SSV (dw0 bit 11) and SSID dw0[31:12]', () => {
    const c = makeCmdAtcInv(0x100, 5, 0x10000, 0x1000);
    expect(c.ssv).toBe(true);
    const w = encodeCmd(c);
    expect((w[0]! >>> 11) & 1).toBe(1);
    expect(w[0]! >>> 12).toBe(5);
    expect((w[0]! >>> 9) & 1).toBe(0); // GLOBAL
  });

  it('CMD_SYNC: CS in dw0[13:12] (NONE 0, IRQ 1, SEV 2); driver sync is CS=SEV, MSH=ISH dw0[23:22], MSIATTR=OIWB dw0[27:24]', () => {
    expect([CMDQ_SYNC_0_CS_NONE, CMDQ_SYNC_0_CS_IRQ, CMDQ_SYNC_0_CS_SEV]).toEqual([0, 1, 2]);
    for (const cs of [0, 1, 2]) {
      const w = encodeCmd(makeCmdSync(cs));
      expect((w[0]! >>> 12) & 3).toBe(cs);
    }
    const w = encodeCmd(makeCmdSync());
    expect(w[0]! & 0xff).toBe(0x46);
    expect((w[0]! >>> 12) & 3).toBe(2);
    expect(ARM_SMMU_SH_ISH).toBe(3);
    expect(ARM_SMMU_MEMATTR_OIWB).toBe(0xf);
    expect((w[0]! >>> 22) & 3).toBe(3);
    expect((w[0]! >>> 24) & 0xf).toBe(0xf);
    expect(w[0]).toBe(0x46 | (2 << 12) | (3 << 22) | (0xf << 24));
    expect([w[1], w[2], w[3]]).toEqual([0, 0, 0]);
    // MSIADDR dw1[51:2], MSIDATA dw0[63:32]
    const m = encodeCmd({ op: CMDQ_OP_CMD_SYNC, cs: 1, msidata: 0x1234_5678, msiaddr: 0x000f_ffff_ffff_fffc });
    expect(m[1]).toBe(0x1234_5678);
    expect(dwOf(m, 1)).toBe(0x000f_ffff_ffff_fffcn);
  });

  it('CFGI_STE: SID dw0[63:32], LEAF dw1 bit 0; CFGI_ALL: RANGE = 31 in dw1[4:0]', () => {
    expect(encodeCmd(makeCmdCfgiSte(0x1234, true))).toEqual([0x03, 0x1234, 1, 0]);
    expect(encodeCmd(makeCmdCfgiSte(7, false))).toEqual([0x03, 7, 0, 0]);
    expect(CFGI_ALL_RANGE).toBe(31);
    expect(encodeCmd(makeCmdCfgiAll())).toEqual([0x04, 0, 31, 0]);
  });

  it('TLBI_NH_ASID: ASID dw0[63:48], VMID dw0[47:32]', () => {
    const w = encodeCmd(makeCmdTlbiNhAsid(0xbeef));
    expect(w[0]! & 0xff).toBe(CMDQ_OP_TLBI_NH_ASID);
    expect(w[1]! >>> 16).toBe(0xbeef);
    expect(w[1]! & 0xffff).toBe(0);
    expect(encodeCmd({ op: CMDQ_OP_TLBI_NH_ASID, asid: 1, vmid: 0xffff })[1]).toBe(0x0001_ffff);
  });

  it('TLBI_NH_VA: NUM dw0[16:12], SCALE dw0[24:20], LEAF dw1 bit 0, TTL dw1[9:8], TG dw1[11:10], VA dw1[63:12]', () => {
    const w = encodeCmd({
      op: CMDQ_OP_TLBI_NH_VA,
      num: 31,
      scale: 0,
      asid: 0,
      vmid: 0,
      leaf: true,
      ttl: 2,
      tg: 1,
      addr: 0x1234_5678_9000,
    });
    expect((w[0]! >>> 12) & 0x1f).toBe(31);
    expect((w[0]! >>> 20) & 0x1f).toBe(0);
    expect(w[2]! & 1).toBe(1);
    expect((w[2]! >>> 8) & 3).toBe(2);
    expect((w[2]! >>> 10) & 3).toBe(1);
    expect(dwOf(w, 1) >> 12n).toBe(0x1234_5678_9000n >> 12n);
    // SCALE sits above NUM with bits 19:17 unused.
    const s = encodeCmd({ op: CMDQ_OP_TLBI_NH_VA, num: 0, scale: 31 });
    expect(s[0]).toBe(0x12 | (31 << 20));
  });

  it('makeCmdTlbiNhVa covers exactly the pages asked for: (NUM + 1) << SCALE pages, TG 4K, leaf', () => {
    for (const pages of [1, 2, 31, 32, 64, 96, 256, 1024]) {
      const c = makeCmdTlbiNhVa(3, 0x40000, pages);
      expect(((c.num ?? 0) + 1) * 2 ** (c.scale ?? 0), `pages=${pages}`).toBe(pages);
      expect(c.tg).toBe(1);
      expect(c.leaf).toBe(true);
      expect(decodeCmd(encodeCmd(c))).toEqual(c);
    }
  });

  it("appendTlbiNhVa (the driver's direct encoder) writes the words of encodeCmd(makeCmdTlbiNhVa()) (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 2 ** 36 - 1 }),
        fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 1 << 20 })),
        (asid, page, pages) => {
          const out = new Uint32Array(8).fill(0xdead_beef);
          appendTlbiNhVa(out, 4, asid, page * 4096, pages);
          expect([...out.subarray(4)]).toEqual([...encodeCmd(makeCmdTlbiNhVa(asid, page * 4096, pages))]);
          expect([...out.subarray(0, 4)]).toEqual([0xdead_beef, 0xdead_beef, 0xdead_beef, 0xdead_beef]);
        },
      ),
      { seed: 11, numRuns: 500 },
    );
  });

  it('describeCmd names the opcode and prints SID and address in hex', () => {
    const d = describeCmd(makeCmdAtcInv(0x100, 0, 0x10000, 0x2000));
    expect(d.startsWith('ATC_INV ')).toBe(true);
    expect(d).toContain('sid=0x100');
    expect(d).toContain('addr=0x10000');
    expect(d).toContain('size=1');
  });
});

/* ------------------------------------------------- ATC_INV range rounding */

/** arm_smmu_atc_inv_to_cmd() (LC), in 64-bit arithmetic. */
function refAtcInv(iova: bigint, size: bigint): { addr: bigint; size: number } {
  if (size === 0n) return { addr: 0n, size: 52 };
  const first = iova >> 12n;
  const last = (iova + size - 1n) >> 12n;
  const x = first ^ last;
  const log2Span = x === 0n ? 0 : x.toString(2).length; // fls_long
  const spanMask = (1n << BigInt(log2Span)) - 1n;
  return { addr: (first & ~spanMask) << 12n, size: log2Span };
}

describe('arm_smmu_atc_inv_to_cmd range rounding (smmu-facts §2: log2_span = fls(first_page ^ last_page))', () => {
  const cases: Array<[string, number, number, number, number]> = [
    // label, iova, size, expected addr, expected SIZE
    ['one page', 0x5000, 0x1000, 0x5000, 0],
    ['a byte inside one page: address aligned down', 0x5123, 1, 0x5000, 0],
    ['two aligned pages', 0x10000, 0x2000, 0x10000, 1],
    ['two pages straddling an odd boundary', 0x11000, 0x2000, 0x10000, 2],
    ['pages 7..8 need a 16-page span at 0', 0x7000, 0x2000, 0, 4],
    ['unaligned start and end', 0x10fff, 2, 0x10000, 1],
    ['an aligned 64-page block', 0x40000, 0x40000, 0x40000, 6],
    ['first page of 2^20 pages', 0xfffff000, 0x2000, 0, 21],
    ['crossing page 2^32 (IOVA 2^44)', 2 ** 44 - 0x1000, 0x2000, 0, 33],
    ['just above IOVA 2^44', 2 ** 44, 0x2000, 2 ** 44, 1],
    ['top of the 48-bit IOVA space', 2 ** 48 - 0x2000, 0x2000, 2 ** 48 - 0x2000, 1],
  ];
  for (const [label, iova, size, addr, log2] of cases) {
    it(`${label}: iova ${iova.toString(16)} size ${size.toString(16)} -> addr ${addr.toString(16)} SIZE ${log2}`, () => {
      const c = makeCmdAtcInv(0x100, 0, iova, size);
      expect({ addr: c.addr, size: c.size }).toEqual({ addr, size: log2 });
      expect(c.op).toBe(CMDQ_OP_ATC_INV);
      expect(c.sid).toBe(0x100);
    });
  }

  it('size 0 means the whole ATC: SIZE = ATC_INV_SIZE_ALL = 52, address 0', () => {
    expect(ATC_INV_SIZE_ALL).toBe(52);
    const c = makeCmdAtcInv(0x100, 0, 0x12345000, 0);
    expect(c.size).toBe(52);
    expect(c.addr).toBe(0);
    expect(encodeCmd(c)[2]! & 0x3f).toBe(52);
    expect(atcInvPageRange(c)).toEqual([0, Number.MAX_SAFE_INTEGER]);
  });

  it('matches the 64-bit kernel computation for any range in the 48-bit IOVA space (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.bigInt({ min: 1n, max: 1n << 40n }), (iova, size) => {
        fc.pre(iova + size <= 1n << 48n);
        const want = refAtcInv(iova, size);
        const c = makeCmdAtcInv(1, 0, Number(iova), Number(size));
        expect({ addr: c.addr, size: c.size }).toEqual({ addr: Number(want.addr), size: want.size });
      }),
      { numRuns: 2000, seed: 11 },
    );
  });

  it("end to end: an unmap of 2 pages across IOVA 2^44 invalidates both pages in a healthy device's ATC", () => {
    // SCENARIO-FORMAT.md: iova is any 4 KiB-aligned IOVA below 2^48; `unmap` invalidates
    // (ATC_INV for every ATS device) before the pages are freed and reused, so a DMA
    // through the old translation must not find a stale ATC entry.
    for (const iovaNum of [0x10000, 2 ** 44 - 0x1000]) {
      const iova = '0x' + iovaNum.toString(16);
      const r = run(
        scenario({
          steps: [
            { at: 0, op: 'map', domain: 'dma0', iova, pages: 2 },
            { at: 10, op: 'dma', device: NVME, iova, write: true },
            { at: 30, op: 'unmap', domain: 'dma0', iova, pages: 2 },
            { at: 40, op: 'map', domain: 'dma1', iova: '0x10000', pages: 30 },
            { at: 100, op: 'dma', device: NVME, iova, write: true },
          ],
        }),
        'v4',
      );
      expect(r.result.stats.staleAtcWrites, `iova ${iova}`).toBe(0);
      expect(r.result.stats.corruptedPages, `iova ${iova}`).toBe(0);
    }
  });

  it('the rounded range is the smallest naturally aligned power of two that covers the request (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 2 ** 24 }), (page, bytes) => {
        const iova = page * 4096 + (bytes % 4096);
        const c = makeCmdAtcInv(1, 0, iova, bytes);
        const [first, last] = atcInvPageRange(c);
        const f = Math.floor(iova / 4096),
          l = Math.floor((iova + bytes - 1) / 4096);
        expect(first).toBeLessThanOrEqual(f);
        expect(last).toBeGreaterThanOrEqual(l);
        expect(first % 2 ** c.size!).toBe(0);
        if (c.size! > 0) {
          // Half the span, aligned, cannot hold both ends.
          const half = 2 ** (c.size! - 1);
          expect(Math.floor(f / half)).not.toBe(Math.floor(l / half));
        }
      }),
      { numRuns: 1000, seed: 3 },
    );
  });
});

/* ----------------------------------------------------- queue pointers */

describe('queue pointer macros (smmu-facts §1, arm-smmu-v3.h)', () => {
  it('Q_IDX and Q_WRP split index and the wrap bit right above it; CONS.ERR bits are ignored', () => {
    expect(Q_IDX(3, 0b1101)).toBe(0b101);
    expect(Q_WRP(3, 0b1101)).toBe(0b1000);
    expect(Q_WRP(3, 0b0101)).toBe(0);
    // Seed log "cons 0x0302bb84" read with an 8-bit ring: ERR 3, index 0x84, wrap bit 8 set.
    expect(Q_IDX(8, 0x0302bb84)).toBe(0x84);
    expect(Q_WRP(8, 0x0302bb84)).toBe(0x100);
    expect(Q_WRP(8, 0x0302ba84)).toBe(0);
    expect(Q_IDX(19, 0x0308_0005)).toBe(5);
    expect(Q_WRP(19, 0x0308_0005)).toBe(0x80000);
  });

  it('queueIncN (queue_inc_prod_n) carries into the wrap bit and wraps the wrap bit, keeping upper bits', () => {
    expect(queueIncN(3, 6, 1)).toBe(7);
    expect(queueIncN(3, 7, 1)).toBe(8); // idx 0, wrap set
    expect(queueIncN(3, 6, 5)).toBe(8 | 3);
    expect(queueIncN(3, 15, 1)).toBe(0); // wrap bit flips back
    expect(queueIncN(3, 14, 4)).toBe(2);
    expect(queueIncN(3, 0x8000_0006, 3)).toBe(0x8000_0009); // OVF / OWNED flag kept
    expect(queueIncN(3, 0x8000_000f, 1)).toBe(0x8000_0000);
    expect(queueIncN(19, (1 << 20) - 1, 2)).toBe(1);
    expect(queueIncN(8, 0x0300_00ff, 1)).toBe(0x0300_0100);
  });

  it('full: same index, different wrap; empty: same index, same wrap', () => {
    expect(queueFull(3, 8, 0)).toBe(true);
    expect(queueEmpty(3, 8, 0)).toBe(false);
    expect(queueFull(3, 8, 8)).toBe(false);
    expect(queueEmpty(3, 8, 8)).toBe(true);
    expect(queueFull(3, 3, 11)).toBe(true);
    expect(queueEmpty(3, 3, 3)).toBe(true);
    expect(queueFull(3, 4, 3)).toBe(false);
    expect(queueEmpty(3, 4, 3)).toBe(false);
    expect(queueSpace(3, 8, 0)).toBe(0);
    expect(queueSpace(3, 0, 0)).toBe(8);
    expect(queueSpace(3, 3, 0)).toBe(5);
    expect(queueSpace(3, 8 | 1, 3)).toBe(2);
  });

  it('queueConsumed: (same wrap and cons_idx > prod_idx) or (different wrap and cons_idx <= prod_idx)', () => {
    const prod = 5; // a CMD_SYNC at slot 5, wrap 0
    expect(queueConsumed(3, 5, prod)).toBe(false); // CONS still on the CMD_SYNC
    expect(queueConsumed(3, 4, prod)).toBe(false);
    expect(queueConsumed(3, 6, prod)).toBe(true);
    expect(queueConsumed(3, 8 | 0, prod)).toBe(true); // wrapped past
    expect(queueConsumed(3, 8 | 5, prod)).toBe(true);
    expect(queueConsumed(3, 8 | 6, prod)).toBe(false);
    // CONS.ERR bits do not count (ERR 3, RD 6).
    expect(queueConsumed(3, 0x0300_0006, prod)).toBe(true);
    expect(queueConsumed(3, 0x0300_0005, prod)).toBe(false);
  });

  it('all macros agree with arithmetic modulo 2·size for every (prod, cons) of a 8-entry ring', () => {
    const shift = 3,
      n = 8,
      m = 2 * n;
    for (let p = 0; p < m; p++) {
      for (let c = 0; c < m; c++) {
        const used = (p - c + m) % m; // entries between cons and prod
        const ctx = `prod=${p} cons=${c}`;
        if (used <= n) {
          expect(queueSpace(shift, p, c), ctx).toBe(n - used);
          expect(queueFull(shift, p, c), ctx).toBe(used === n);
          expect(queueEmpty(shift, p, c), ctx).toBe(used === 0);
        }
        const ahead = (c - p + m) % m; // how far CONS is past slot p
        expect(queueConsumed(shift, c, p), ctx).toBe(ahead >= 1 && ahead <= n);
        for (let k = 0; k <= n; k++) expect(queueIncN(shift, p, k), `${ctx} +${k}`).toBe((p + k) % m);
      }
    }
  });
});

/* ------------------------------------------------------ registers, GERROR */

describe('registers, GERROR and CERROR (smmu-facts §1)', () => {
  it('page-0 register offsets', () => {
    expect({
      IDR0: ARM_SMMU_IDR0,
      IDR1: ARM_SMMU_IDR1,
      CR0: ARM_SMMU_CR0,
      CR0ACK: ARM_SMMU_CR0ACK,
      IRQ_CTRL: ARM_SMMU_IRQ_CTRL,
      IRQ_CTRLACK: ARM_SMMU_IRQ_CTRLACK,
      GERROR: ARM_SMMU_GERROR,
      GERRORN: ARM_SMMU_GERRORN,
      STRTAB_BASE: ARM_SMMU_STRTAB_BASE,
      STRTAB_BASE_CFG: ARM_SMMU_STRTAB_BASE_CFG,
      CMDQ_BASE: ARM_SMMU_CMDQ_BASE,
      CMDQ_PROD: ARM_SMMU_CMDQ_PROD,
      CMDQ_CONS: ARM_SMMU_CMDQ_CONS,
      EVTQ_BASE: ARM_SMMU_EVTQ_BASE,
      EVTQ_PROD: ARM_SMMU_EVTQ_PROD,
      EVTQ_CONS: ARM_SMMU_EVTQ_CONS,
    }).toEqual({
      IDR0: 0x00,
      IDR1: 0x04,
      CR0: 0x20,
      CR0ACK: 0x24,
      IRQ_CTRL: 0x50,
      IRQ_CTRLACK: 0x54,
      GERROR: 0x60,
      GERRORN: 0x64,
      STRTAB_BASE: 0x80,
      STRTAB_BASE_CFG: 0x88,
      CMDQ_BASE: 0x90,
      CMDQ_PROD: 0x98,
      CMDQ_CONS: 0x9c,
      EVTQ_BASE: 0xa0,
      EVTQ_PROD: 0xa8,
      EVTQ_CONS: 0xac,
    });
  });

  it('IDR0, IDR1, CR0 and IRQ_CTRL bit positions', () => {
    expect([IDR0_S2P, IDR0_S1P, IDR0_ATS, IDR0_MSI, IDR0_SEV, IDR0_PRI]).toEqual([1, 2, 1 << 10, 1 << 13, 1 << 14, 1 << 16]);
    expect([IDR1_CMDQS_SHIFT, IDR1_EVTQS_SHIFT, IDR1_SSIDSIZE_SHIFT, IDR1_SIDSIZE_SHIFT]).toEqual([21, 16, 6, 0]);
    expect([CR0_SMMUEN, CR0_PRIQEN, CR0_EVTQEN, CR0_CMDQEN, CR0_ATSCHK]).toEqual([1, 2, 4, 8, 16]);
    expect([IRQ_CTRL_GERROR_IRQEN, IRQ_CTRL_PRIQ_IRQEN, IRQ_CTRL_EVTQ_IRQEN]).toEqual([1, 2, 4]);
  });

  it('GERROR_ERR_MASK = 0x1fd: bits 0 and 2-8, not the reserved bit 1 nor bits 9/10', () => {
    expect(GERROR_ERR_MASK).toBe(0x1fd);
    const bits = [
      GERROR_CMDQ_ERR,
      GERROR_EVTQ_ABT_ERR,
      GERROR_PRIQ_ABT_ERR,
      GERROR_MSI_CMDQ_ABT_ERR,
      GERROR_MSI_EVTQ_ABT_ERR,
      GERROR_MSI_PRIQ_ABT_ERR,
      GERROR_MSI_GERROR_ABT_ERR,
      GERROR_SFM_ERR,
    ];
    expect(bits).toEqual([1 << 0, 1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8]);
    expect(bits.reduce((a, b) => a | b, 0)).toBe(GERROR_ERR_MASK);
    expect(GERROR_ERR_MASK & (1 << 1)).toBe(0);
    expect(GERROR_ERR_MASK & ((1 << 9) | (1 << 10))).toBe(0);
    expect(GERROR_BITS.map((b) => [b.bit, b.name])).toEqual([
      [0, 'CMDQ_ERR'],
      [2, 'EVTQ_ABT_ERR'],
      [3, 'PRIQ_ABT_ERR'],
      [4, 'MSI_CMDQ_ABT_ERR'],
      [5, 'MSI_EVTQ_ABT_ERR'],
      [6, 'MSI_PRIQ_ABT_ERR'],
      [7, 'MSI_GERROR_ABT_ERR'],
      [8, 'SFM_ERR'],
    ]);
  });

  it('CERROR codes and the kernel cerror_str[] strings; index >= 4 prints "Unknown"', () => {
    expect([CMDQ_ERR_CERROR_NONE_IDX, CMDQ_ERR_CERROR_ILL_IDX, CMDQ_ERR_CERROR_ABT_IDX, CMDQ_ERR_CERROR_ATC_INV_IDX]).toEqual([
      0, 1, 2, 3,
    ]);
    expect([0, 1, 2, 3].map(cerrorStr)).toEqual([
      'No error',
      'Illegal command',
      'Abort on command fetch',
      'ATC invalidate timeout',
    ]);
    expect(cerrorStr(4)).toBe('Unknown');
    expect(cerrorStr(0x7f)).toBe('Unknown');
    expect(CERROR_NAMES).toEqual(['CERROR_NONE', 'CERROR_ILL', 'CERROR_ABT', 'CERROR_ATC_INV_SYNC']);
    expect(cerrorName(3)).toBe('CERROR_ATC_INV_SYNC');
  });

  it('CMDQ_CONS.ERR is bits 30:24: the seed log value 0x0302bb84 is an ATC invalidate timeout', () => {
    expect(CMDQ_CONS_ERR_SHIFT).toBe(24);
    expect(CMDQ_CONS_ERR_MASK).toBe(0x7f);
    const err = (0x0302bb84 >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK;
    expect(err).toBe(3);
    expect(cerrorStr(err)).toBe('ATC invalidate timeout');
    // Bit 31 is RES0 and not part of ERR.
    expect((0x8100_0000 >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK).toBe(1);
  });
});

/* ------------------------------------------------------------ STE / CD */

describe('STE and CD fields (smmu-facts §3)', () => {
  const dw = (a: Uint32Array, base: number, i: number): bigint =>
    (BigInt(a[base + 2 * i + 1]!) << 32n) | BigInt(a[base + 2 * i]!);

  it('an STE and a CD are 8 dwords (16 words); Config and EATS values', () => {
    expect(STE_WORDS).toBe(16);
    expect(CD_WORDS).toBe(16);
    expect([
      STRTAB_STE_0_CFG_ABORT,
      STRTAB_STE_0_CFG_BYPASS,
      STRTAB_STE_0_CFG_S1_TRANS,
      STRTAB_STE_0_CFG_S2_TRANS,
      STRTAB_STE_0_CFG_NESTED,
    ]).toEqual([0b000, 0b100, 0b101, 0b110, 0b111]);
    expect([STRTAB_STE_1_EATS_ABT, STRTAB_STE_1_EATS_TRANS, STRTAB_STE_1_EATS_S1CHK]).toEqual([0, 1, 2]);
  });

  const extremes: SteFields = {
    v: 1,
    config: 7,
    s1fmt: 3,
    s1ContextPtr: (2 ** 46 - 1) * 64,
    s1cdmax: 31,
    s1dss: 3,
    eats: 3,
    strw: 3,
    shcfg: 3,
  };
  const typical: SteFields = {
    v: 1,
    config: STRTAB_STE_0_CFG_S1_TRANS,
    s1fmt: 0,
    s1ContextPtr: 0x9000_1040,
    s1cdmax: 0,
    s1dss: 2,
    eats: 1,
    strw: 0,
    shcfg: 0,
  };

  for (const [label, s] of [
    ['extreme values', extremes],
    ['a typical S1 STE', typical],
  ] as const) {
    it(`round trip and raw positions: ${label}`, () => {
      const a = new Uint32Array(48).fill(0xffff_ffff);
      writeSte(a, 16, s);
      expect(readSte(a, 16)).toEqual(s);
      const d0 = dw(a, 16, 0),
        d1 = dw(a, 16, 1);
      expect(d0 & 1n).toBe(BigInt(s.v)); // V dw0 bit 0
      expect((d0 >> 1n) & 7n).toBe(BigInt(s.config)); // Config dw0[3:1]
      expect((d0 >> 4n) & 3n).toBe(BigInt(s.s1fmt)); // S1Fmt dw0[5:4]
      expect(d0 & (ones(46) << 6n)).toBe(BigInt(s.s1ContextPtr)); // S1ContextPtr dw0[51:6]
      expect((d0 >> 59n) & 31n).toBe(BigInt(s.s1cdmax)); // S1CDMax dw0[63:59]
      expect(d1 & 3n).toBe(BigInt(s.s1dss)); // S1DSS dw1[1:0]
      expect((d1 >> 28n) & 3n).toBe(BigInt(s.eats)); // EATS dw1[29:28] = STE bits 93:92
      expect((a[16 + 2]! >>> 28) & 3).toBe(s.eats);
      expect((d1 >> 30n) & 3n).toBe(BigInt(s.strw)); // STRW dw1[31:30]
      expect((d1 >> 44n) & 3n).toBe(BigInt(s.shcfg)); // SHCFG dw1[45:44]
      // Nothing else is set inside the entry, and the neighbours are untouched.
      const fieldsMask0 = 1n | (7n << 1n) | (3n << 4n) | (ones(46) << 6n) | (31n << 59n);
      expect(d0 & ~fieldsMask0).toBe(0n);
      expect(d1 & ~(3n | (3n << 28n) | (3n << 30n) | (3n << 44n))).toBe(0n);
      for (let i = 4; i < 16; i++) expect(a[16 + i], `word ${i}`).toBe(0);
      expect([...a.slice(0, 16)].every((x) => x === 0xffff_ffff)).toBe(true);
      expect([...a.slice(32)].every((x) => x === 0xffff_ffff)).toBe(true);
    });
  }

  it('setSteEats changes only dw1[29:28] (EATS cleared in place, seed 003 #22)', () => {
    const a = new Uint32Array(16);
    writeSte(a, 0, extremes);
    const before = [...a];
    setSteEats(a, 0, 0);
    expect(steEats(a, 0)).toBe(0);
    expect(readSte(a, 0)).toEqual({ ...extremes, eats: 0 });
    const after = [...a];
    expect(after[2]).toBe((before[2]! & ~(3 << 28)) >>> 0);
    after[2] = before[2]!;
    expect(after).toEqual(before);
    setSteEats(a, 0, 1);
    expect((a[2]! >>> 28) & 3).toBe(1);
  });

  it('CD: V dw0 bit 31, ASID dw0[63:48], TTB0 dw1[51:4]', () => {
    const a = new Uint32Array(16).fill(0xffff_ffff);
    const cd = { v: 1, asid: 0xffff, ttb0: (2 ** 48 - 1) * 16 };
    writeCd(a, 0, cd);
    expect(readCd(a, 0)).toEqual(cd);
    expect(a[0]! >>> 31).toBe(1);
    expect(a[1]! >>> 16).toBe(0xffff);
    expect(dw(a, 0, 1)).toBe(ones(48) << 4n);
    expect(dw(a, 0, 0)).toBe((1n << 31n) | (0xffffn << 48n));
    for (let i = 4; i < 16; i++) expect(a[i]).toBe(0);
    const typical = { v: 1, asid: 0x1234, ttb0: 0x8010_0000 };
    writeCd(a, 0, typical);
    expect(readCd(a, 0)).toEqual(typical);
    expect(a[1]! >>> 16).toBe(0x1234);
    expect(a[2]).toBe(0x8010_0000);
  });
});

// Keep the imports of the opcode constants honest: these names are what the driver model builds.
it('builders produce the opcodes they are named after', () => {
  expect(makeCmdSync().op).toBe(CMDQ_OP_CMD_SYNC);
  expect(makeCmdCfgiSte(1, true).op).toBe(CMDQ_OP_CFGI_STE);
  expect(makeCmdCfgiAll().op).toBe(CMDQ_OP_CFGI_ALL);
  expect(makeCmdTlbiNhVa(1, 0, 1).op).toBe(CMDQ_OP_TLBI_NH_VA);
});
