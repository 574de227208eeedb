/**
 * Stream table entries and context descriptors (Arm IHI 0070 §5.2, §5.4;
 * Linux STRTAB_STE_* / CTXDESC_CD_*). Each STE and CD is 8 dwords (64 bytes),
 * stored as 16 uint32 words.
 */
import { field, getField, setField } from './bits.ts';

export const STRTAB_STE_DWORDS = 8;
export const STE_WORDS = 16;
export const CTXDESC_CD_DWORDS = 8;
export const CD_WORDS = 16;

export const STRTAB_STE_0_V = field('V', 0, 0, 0);
export const STRTAB_STE_0_CFG = field('Config', 0, 3, 1);
export const STRTAB_STE_0_S1FMT = field('S1Fmt', 0, 5, 4);
export const STRTAB_STE_0_S1CTXPTR = field('S1ContextPtr', 0, 51, 6);
export const STRTAB_STE_0_S1CDMAX = field('S1CDMax', 0, 63, 59);
export const STRTAB_STE_1_S1DSS = field('S1DSS', 1, 1, 0);
export const STRTAB_STE_1_EATS = field('EATS', 1, 29, 28);
export const STRTAB_STE_1_STRW = field('STRW', 1, 31, 30);
export const STRTAB_STE_1_SHCFG = field('SHCFG', 1, 45, 44);
export const STRTAB_STE_2_S2VMID = field('S2VMID', 2, 15, 0);

export const STRTAB_STE_0_CFG_ABORT = 0;
export const STRTAB_STE_0_CFG_BYPASS = 4;
export const STRTAB_STE_0_CFG_S1_TRANS = 5;
export const STRTAB_STE_0_CFG_S2_TRANS = 6;
export const STRTAB_STE_0_CFG_NESTED = 7;
export const STE_CONFIG_NAMES: Readonly<Record<number, string>> = {
  0: 'ABORT',
  1: 'ABORT(rsvd)',
  2: 'ABORT(rsvd)',
  3: 'ABORT(rsvd)',
  4: 'BYPASS',
  5: 'S1_TRANS',
  6: 'S2_TRANS',
  7: 'NESTED',
};

export const STRTAB_STE_1_EATS_ABT = 0;
export const STRTAB_STE_1_EATS_TRANS = 1;
export const STRTAB_STE_1_EATS_S1CHK = 2;
export const STRTAB_STE_1_S1DSS_SSID0 = 2;
export const STRTAB_STE_1_STRW_NSEL1 = 0;
export const STRTAB_STE_1_S1DSS_BYPASS = 1;
export const STRTAB_STE_1_SHCFG_INCOMING = 1;

export const CTXDESC_CD_0_V = field('V', 0, 31, 31);
export const CTXDESC_CD_0_ASID = field('ASID', 0, 63, 48);
export const CTXDESC_CD_1_TTB0 = field('TTB0', 1, 51, 4);

/** Decoded STE fields the views and checks use. */
export interface SteFields {
  v: number;
  config: number;
  s1fmt: number;
  s1ContextPtr: number;
  s1cdmax: number;
  s1dss: number;
  eats: number;
  strw: number;
  /** Shareability for bypass (SHCFG); Linux writes "incoming" in a bypass STE. */
  shcfg: number;
}

export function readSte(a: Uint32Array, base: number): SteFields {
  return {
    v: getField(a, base, STRTAB_STE_0_V),
    config: getField(a, base, STRTAB_STE_0_CFG),
    s1fmt: getField(a, base, STRTAB_STE_0_S1FMT),
    s1ContextPtr: getField(a, base, STRTAB_STE_0_S1CTXPTR) * 64,
    s1cdmax: getField(a, base, STRTAB_STE_0_S1CDMAX),
    s1dss: getField(a, base, STRTAB_STE_1_S1DSS),
    eats: getField(a, base, STRTAB_STE_1_EATS),
    strw: getField(a, base, STRTAB_STE_1_STRW),
    shcfg: getField(a, base, STRTAB_STE_1_SHCFG),
  };
}

export function writeSte(a: Uint32Array, base: number, s: SteFields): void {
  for (let i = 0; i < STE_WORDS; i++) a[base + i] = 0;
  setField(a, base, STRTAB_STE_0_V, s.v);
  setField(a, base, STRTAB_STE_0_CFG, s.config);
  setField(a, base, STRTAB_STE_0_S1FMT, s.s1fmt);
  setField(a, base, STRTAB_STE_0_S1CTXPTR, Math.floor(s.s1ContextPtr / 64));
  setField(a, base, STRTAB_STE_0_S1CDMAX, s.s1cdmax);
  setField(a, base, STRTAB_STE_1_S1DSS, s.s1dss);
  setField(a, base, STRTAB_STE_1_EATS, s.eats);
  setField(a, base, STRTAB_STE_1_STRW, s.strw);
  setField(a, base, STRTAB_STE_1_SHCFG, s.shcfg);
}

export function steEats(a: Uint32Array, base: number): number {
  return getField(a, base, STRTAB_STE_1_EATS);
}
export function setSteEats(a: Uint32Array, base: number, eats: number): void {
  setField(a, base, STRTAB_STE_1_EATS, eats);
}

export interface CdFields {
  v: number;
  asid: number;
  ttb0: number;
}
export function readCd(a: Uint32Array, base: number): CdFields {
  return {
    v: getField(a, base, CTXDESC_CD_0_V),
    asid: getField(a, base, CTXDESC_CD_0_ASID),
    ttb0: getField(a, base, CTXDESC_CD_1_TTB0) * 16,
  };
}
export function writeCd(a: Uint32Array, base: number, c: CdFields): void {
  for (let i = 0; i < CD_WORDS; i++) a[base + i] = 0;
  setField(a, base, CTXDESC_CD_0_V, c.v);
  setField(a, base, CTXDESC_CD_0_ASID, c.asid);
  setField(a, base, CTXDESC_CD_1_TTB0, Math.floor(c.ttb0 / 16));
}

/* EVTQ event records (4 dwords). */
export const EVTQ_ENT_DWORDS = 4;
export const EVTQ_ENT_WORDS = 8;
export const EVTQ_0_ID = field('EVENT_ID', 0, 7, 0);
export const EVTQ_0_SSV = field('SSV', 0, 11, 11);
export const EVTQ_0_SSID = field('SSID', 0, 31, 12);
export const EVTQ_0_SID = field('SID', 0, 63, 32);
export const EVTQ_1_RNW = field('RnW', 1, 35, 35);
export const EVTQ_2_ADDR = field('ADDR', 2, 63, 0);

export const EVT_ID_BAD_STREAMID_CONFIG = 0x02;
export const EVT_ID_STE_FETCH_FAULT = 0x03;
export const EVT_ID_BAD_STE_CONFIG = 0x04;
export const EVT_ID_BAD_ATS_TREQ = 0x05;
export const EVT_ID_STREAM_DISABLED_FAULT = 0x06;
export const EVT_ID_TRANSL_FORBIDDEN = 0x07;
export const EVT_ID_TRANSLATION_FAULT = 0x10;
export const EVT_ID_PERMISSION_FAULT = 0x13;

/** Spec names of event records (for views). */
export const EVENT_SPEC_NAMES: Readonly<Record<number, string>> = {
  0x02: 'C_BAD_STREAMID',
  0x03: 'F_STE_FETCH',
  0x04: 'C_BAD_STE',
  0x05: 'F_BAD_ATS_TREQ',
  0x06: 'F_STREAM_DISABLED',
  0x07: 'F_TRANSL_FORBIDDEN',
  0x10: 'F_TRANSLATION',
  0x11: 'F_ADDR_SIZE',
  0x12: 'F_ACCESS',
  0x13: 'F_PERMISSION',
};
/**
 * The kernel's event_str[] table: F_BAD_ATS_TREQ and F_TRANSL_FORBIDDEN have
 * no entry there, so the kernel prints them as "UNKNOWN".
 */
export const KERNEL_EVENT_STR: Readonly<Record<number, string>> = {
  0x02: 'C_BAD_STREAMID',
  0x03: 'F_STE_FETCH',
  0x04: 'C_BAD_STE',
  0x06: 'F_STREAM_DISABLED',
  0x08: 'C_BAD_SUBSTREAMID',
  0x09: 'F_CD_FETCH',
  0x0a: 'C_BAD_CD',
  0x10: 'F_TRANSLATION',
  0x11: 'F_ADDR_SIZE',
  0x12: 'F_ACCESS',
  0x13: 'F_PERMISSION',
  0x25: 'F_VMS_FETCH',
};
