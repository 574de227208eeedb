/**
 * SMMUv3 register file, page 0, at the architectural offsets (Arm IHI 0070,
 * §6.3; Linux arm-smmu-v3.h). Registers live in a Uint32Array indexed by
 * offset / 4. Names are spelled as the spec spells them.
 */
export const ARM_SMMU_IDR0 = 0x00;
export const ARM_SMMU_IDR1 = 0x04;
export const ARM_SMMU_CR0 = 0x20;
export const ARM_SMMU_CR0ACK = 0x24;
export const ARM_SMMU_CR1 = 0x28;
export const ARM_SMMU_CR2 = 0x2c;
export const ARM_SMMU_GBPA = 0x44;
export const ARM_SMMU_IRQ_CTRL = 0x50;
export const ARM_SMMU_IRQ_CTRLACK = 0x54;
export const ARM_SMMU_GERROR = 0x60;
export const ARM_SMMU_GERRORN = 0x64;
export const ARM_SMMU_STRTAB_BASE = 0x80;
export const ARM_SMMU_STRTAB_BASE_CFG = 0x88;
export const ARM_SMMU_CMDQ_BASE = 0x90;
export const ARM_SMMU_CMDQ_PROD = 0x98;
export const ARM_SMMU_CMDQ_CONS = 0x9c;
export const ARM_SMMU_EVTQ_BASE = 0xa0;
export const ARM_SMMU_EVTQ_PROD = 0xa8;
export const ARM_SMMU_EVTQ_CONS = 0xac;
export const REG_FILE_BYTES = 0x100;

export const REG_NAMES: Readonly<Record<number, string>> = {
  [ARM_SMMU_IDR0]: 'IDR0',
  [ARM_SMMU_IDR1]: 'IDR1',
  [ARM_SMMU_CR0]: 'CR0',
  [ARM_SMMU_CR0ACK]: 'CR0ACK',
  [ARM_SMMU_CR1]: 'CR1',
  [ARM_SMMU_CR2]: 'CR2',
  [ARM_SMMU_GBPA]: 'GBPA',
  [ARM_SMMU_IRQ_CTRL]: 'IRQ_CTRL',
  [ARM_SMMU_IRQ_CTRLACK]: 'IRQ_CTRLACK',
  [ARM_SMMU_GERROR]: 'GERROR',
  [ARM_SMMU_GERRORN]: 'GERRORN',
  [ARM_SMMU_STRTAB_BASE]: 'STRTAB_BASE',
  [ARM_SMMU_STRTAB_BASE_CFG]: 'STRTAB_BASE_CFG',
  [ARM_SMMU_CMDQ_BASE]: 'CMDQ_BASE',
  [ARM_SMMU_CMDQ_PROD]: 'CMDQ_PROD',
  [ARM_SMMU_CMDQ_CONS]: 'CMDQ_CONS',
  [ARM_SMMU_EVTQ_BASE]: 'EVTQ_BASE',
  [ARM_SMMU_EVTQ_PROD]: 'EVTQ_PROD',
  [ARM_SMMU_EVTQ_CONS]: 'EVTQ_CONS',
};

/* IDR0 */
export const IDR0_S2P = 1 << 0;
export const IDR0_S1P = 1 << 1;
export const IDR0_ATS = 1 << 10;
export const IDR0_MSI = 1 << 13;
export const IDR0_SEV = 1 << 14;
export const IDR0_PRI = 1 << 16;
/* IDR1: CMDQS[25:21], EVTQS[20:16], SSIDSIZE[10:6], SIDSIZE[5:0] */
export const IDR1_CMDQS_SHIFT = 21;
export const IDR1_EVTQS_SHIFT = 16;
export const IDR1_SSIDSIZE_SHIFT = 6;
export const IDR1_SIDSIZE_SHIFT = 0;

/* CR0 / CR0ACK */
export const CR0_SMMUEN = 1 << 0;
export const CR0_PRIQEN = 1 << 1;
export const CR0_EVTQEN = 1 << 2;
export const CR0_CMDQEN = 1 << 3;
export const CR0_ATSCHK = 1 << 4;

/* GBPA */
export const GBPA_ABORT = 1 << 20;

/* IRQ_CTRL */
export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
export const IRQ_CTRL_EVTQ_IRQEN = 1 << 2;

/* GERROR / GERRORN: an error is active while the two bits differ. */
export const GERROR_CMDQ_ERR = 1 << 0;
export const GERROR_EVTQ_ABT_ERR = 1 << 2;
export const GERROR_PRIQ_ABT_ERR = 1 << 3;
export const GERROR_MSI_CMDQ_ABT_ERR = 1 << 4;
export const GERROR_MSI_EVTQ_ABT_ERR = 1 << 5;
export const GERROR_MSI_PRIQ_ABT_ERR = 1 << 6;
export const GERROR_MSI_GERROR_ABT_ERR = 1 << 7;
export const GERROR_SFM_ERR = 1 << 8;
export const GERROR_ERR_MASK = 0x1fd;

/** GERROR bits in display order, with the names Linux uses (GERROR_*). */
export const GERROR_BITS: ReadonlyArray<{ bit: number; name: string }> = [
  { bit: 0, name: 'CMDQ_ERR' },
  { bit: 2, name: 'EVTQ_ABT_ERR' },
  { bit: 3, name: 'PRIQ_ABT_ERR' },
  { bit: 4, name: 'MSI_CMDQ_ABT_ERR' },
  { bit: 5, name: 'MSI_EVTQ_ABT_ERR' },
  { bit: 6, name: 'MSI_PRIQ_ABT_ERR' },
  { bit: 7, name: 'MSI_GERROR_ABT_ERR' },
  { bit: 8, name: 'SFM_ERR' },
];

/* CMDQ_CONS: bit31 RES0, ERR[30:24], RD[19:0] (index + wrap bit). */
export const CMDQ_CONS_ERR_SHIFT = 24;
export const CMDQ_CONS_ERR_MASK = 0x7f;

/* CERROR codes in CMDQ_CONS.ERR, with the kernel's cerror_str[] text. */
export const CMDQ_ERR_CERROR_NONE_IDX = 0;
export const CMDQ_ERR_CERROR_ILL_IDX = 1;
export const CMDQ_ERR_CERROR_ABT_IDX = 2;
export const CMDQ_ERR_CERROR_ATC_INV_IDX = 3;
export const CERROR_NAMES: readonly string[] = ['CERROR_NONE', 'CERROR_ILL', 'CERROR_ABT', 'CERROR_ATC_INV_SYNC'];
export const CERROR_STR: readonly string[] = ['No error', 'Illegal command', 'Abort on command fetch', 'ATC invalidate timeout'];

export function cerrorName(idx: number): string {
  return CERROR_NAMES[idx] ?? 'CERROR_UNKNOWN';
}
export function cerrorStr(idx: number): string {
  return CERROR_STR[idx] ?? 'Unknown';
}

/* Queue pointer macros (Linux Q_IDX/Q_WRP), for a ring of 2^shift entries. */
export function Q_IDX(shift: number, p: number): number {
  return p & ((1 << shift) - 1);
}
export function Q_WRP(shift: number, p: number): number {
  return p & (1 << shift);
}
/** queue_inc_prod_n: advance the (wrap|index) part by n, keep upper bits. */
export function queueIncN(shift: number, p: number, n: number): number {
  const wi = (p & ((2 << shift) - 1)) + n;
  return ((p & ~((2 << shift) - 1)) | (wi & ((2 << shift) - 1))) >>> 0;
}
/** Entries free in the ring (queue_has_space). */
export function queueSpace(shift: number, prod: number, cons: number): number {
  const size = 1 << shift;
  const pi = Q_IDX(shift, prod),
    ci = Q_IDX(shift, cons);
  return Q_WRP(shift, prod) === Q_WRP(shift, cons) ? size - (pi - ci) : ci - pi;
}
export function queueFull(shift: number, prod: number, cons: number): boolean {
  return Q_IDX(shift, prod) === Q_IDX(shift, cons) && Q_WRP(shift, prod) !== Q_WRP(shift, cons);
}
export function queueEmpty(shift: number, prod: number, cons: number): boolean {
  return Q_IDX(shift, prod) === Q_IDX(shift, cons) && Q_WRP(shift, prod) === Q_WRP(shift, cons);
}
/** queue_consumed(): has CONS moved past `prod` (an entry index with wrap)? */
export function queueConsumed(shift: number, cons: number, prod: number): boolean {
  const ci = Q_IDX(shift, cons),
    pi = Q_IDX(shift, prod);
  return (Q_WRP(shift, cons) === Q_WRP(shift, prod) && ci > pi) || (Q_WRP(shift, cons) !== Q_WRP(shift, prod) && ci <= pi);
}
