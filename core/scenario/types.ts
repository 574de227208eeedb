/**
 * The scenario file (`smmu-scenario/1`), as documented in
 * SCENARIO-FORMAT.md, plus this project's optional extensions (see
 * docs/SCENARIO-EXTENSIONS.md). `Scenario` is the file as written;
 * `ResolvedScenario` has every default filled in.
 */
import type { PolicyFlags, PresetName } from '../policy/index.ts';

export const SCENARIO_FORMAT = 'smmu-scenario/1';

/** The id the model gives the blocking domain; a scenario's domain may not take it. */
export const BLOCKED_DOMAIN_ID = '__blocked';

export type PolicySpec = PresetName | ({ preset: PresetName } & Partial<PolicyFlags>);

export const RESET_METHODS = ['flr', 'af_flr', 'pm', 'bus', 'cxl_bus', 'acpi', 'quirk'] as const;
export type ResetMethod = (typeof RESET_METHODS)[number];
export const FAULT_KINDS = ['atc-unresponsive', 'atc-slow', 'atc-recover'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const SMMU_FAULT_KINDS = ['sfm', 'cmdq-abort', 'evtq-abort'] as const;
export type SmmuFaultKind = (typeof SMMU_FAULT_KINDS)[number];
export const STEP_OPS = [
  'map',
  'unmap',
  'dma',
  'fault',
  'reset',
  'attach',
  'deferred-attach',
  'report-broken',
  'unplug',
  'smmu-fault',
  'cmd',
] as const;
export type StepOp = (typeof STEP_OPS)[number];

export interface MapStep {
  at: number;
  op: 'map';
  domain: string;
  iova: string | number;
  pages: number;
}
export interface UnmapStep {
  at: number;
  op: 'unmap';
  domain: string;
  iova: string | number;
  pages: number;
}
export interface DmaStep {
  at: number;
  op: 'dma';
  device: string;
  iova: string | number;
  write?: boolean;
  pasid?: number;
}
export interface FaultStep {
  at: number;
  op: 'fault';
  device: string;
  kind: FaultKind;
  latencyUs?: number;
}
export interface ResetStep {
  at: number;
  op: 'reset';
  device: string;
  method: ResetMethod;
  result?: number | string;
  /** How the PCI core's reset ends (an extension; see RESET_OUTCOMES). */
  outcome?: ResetOutcome;
  probe?: boolean;
  durationUs?: number;
}
export interface AttachStep {
  at: number;
  op: 'attach';
  group: number;
  domain: string;
  pasid?: number;
}
export interface DeferredAttachStep {
  at: number;
  op: 'deferred-attach';
  device: string;
}
export interface ReportBrokenStep {
  at: number;
  op: 'report-broken';
  device: string;
}
export interface UnplugStep {
  at: number;
  op: 'unplug';
  device: string;
}
export interface SmmuFaultStep {
  at: number;
  op: 'smmu-fault';
  kind: SmmuFaultKind;
}
export interface CmdSpec {
  op?: string;
  raw?: [string, string];
  [field: string]: unknown;
}
export interface CmdStep {
  at: number;
  op: 'cmd';
  cmd: CmdSpec;
  sync?: boolean;
}

export type Step =
  | MapStep
  | UnmapStep
  | DmaStep
  | FaultStep
  | ResetStep
  | AttachStep
  | DeferredAttachStep
  | ReportBrokenStep
  | UnplugStep
  | SmmuFaultStep
  | CmdStep;

export interface DeviceSpec {
  bdf: string;
  sids: number[];
  ats?: boolean;
  pasid?: boolean;
  driver?: string;
}
export interface GroupSpec {
  id: number;
  domain?: string | null;
  devices: DeviceSpec[];
}
export interface DomainSpec {
  id: string;
  type: 'paging' | 'identity';
}

/**
 * A named moment of a scenario's story (an extension): from `at` (µs of
 * virtual time, like a step's) the page can show `text` as narration and
 * stop Play there; presenter keys go from chapter to chapter.
 */
export interface Chapter {
  at: number;
  /** A short name, at most 60 characters. */
  title: string;
  /** One or two sentences of narration, at most 400 characters. */
  text: string;
  [xKey: `x-${string}`]: unknown;
}

export interface Scenario {
  format: typeof SCENARIO_FORMAT;
  name: string;
  description?: string;
  seed?: number;
  policy?: PolicySpec;
  smmu?: {
    cmdqLog2Size?: number;
    atcInvTimeoutUs?: number;
    pollTimeoutUs?: number;
    gerrorIrqLatencyUs?: number;
    cmdCostNs?: number;
    /* extensions */
    atsChk?: boolean;
    evtqIrqLatencyUs?: number;
    atcInvResponseUs?: number;
  };
  kernel?: { workerLatencyUs?: number; cpus?: number };
  memory?: { pages?: number };
  domains?: DomainSpec[];
  groups: GroupSpec[];
  steps?: Step[];
  chapters?: Chapter[];
  [xKey: `x-${string}`]: unknown;
}

export interface ResolvedSmmuConfig {
  cmdqLog2Size: number;
  atcInvTimeoutUs: number;
  pollTimeoutUs: number;
  gerrorIrqLatencyUs: number;
  cmdCostNs: number;
  atsChk: boolean;
  evtqIrqLatencyUs: number;
  atcInvResponseUs: number;
}

export interface ResolvedScenario {
  format: typeof SCENARIO_FORMAT;
  name: string;
  description: string;
  seed: number;
  policy: PolicySpec;
  smmu: ResolvedSmmuConfig;
  kernel: { workerLatencyUs: number; cpus: number };
  memory: { pages: number };
  domains: DomainSpec[];
  groups: Array<{ id: number; domain: string | null; devices: Array<Required<DeviceSpec>> }>;
  steps: Step[];
  /** The scenario's chapters in order of `at`; empty when it has none. */
  chapters: Chapter[];
}

export const SMMU_DEFAULTS: ResolvedSmmuConfig = {
  cmdqLog2Size: 8,
  atcInvTimeoutUs: 1000,
  pollTimeoutUs: 1_000_000,
  gerrorIrqLatencyUs: 2,
  cmdCostNs: 50,
  atsChk: true,
  evtqIrqLatencyUs: 2,
  atcInvResponseUs: 2,
};
export const KERNEL_DEFAULTS = { workerLatencyUs: 10, cpus: 256 };
export const MEMORY_DEFAULTS = { pages: 64 };

/** Default reset durations (µs of virtual time) per method. */
export const RESET_DURATION_DEFAULTS_US: Readonly<Record<ResetMethod, number>> = {
  flr: 100_000,
  af_flr: 100_000,
  pm: 10_000,
  bus: 100_000,
  cxl_bus: 100_000,
  acpi: 10_000,
  quirk: 100_000,
};
/** The device-specific (quirk) reset waits this long for firmware after its FLR. */
export const QUIRK_FIRMWARE_WAIT_US = 250_000;

/** Linux errno values the model uses. */
export const ERRNO: Readonly<Record<string, number>> = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  EAGAIN: 11,
  ENOMEM: 12,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
};
export const ERRNO_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** "0", "-ENOTTY", or "-123" for an errno without a name here. */
export function errnoString(rc: number): string {
  if (rc === 0) return '0';
  const name = ERRNO_NAME[-rc];
  return name ? `-${name}` : String(rc);
}

/**
 * How a reset method of the PCI core can end (drivers/pci/pci.c, pci-acpi.c,
 * quirks.c with seed 003 #02), and what it returns:
 *  - ok: the reset took place (0);
 *  - unsupported: the capability check fails before prepare (-ENOTTY: "no
 *    reset attempted");
 *  - not-ready: the reset took place but pci_dev_wait() gives up on the
 *    function ("not ready 65535ms after FLR; giving up", -ENOTTY after
 *    prepare: the seed 003 #04 FIXME's "reset failed");
 *  - skipped: pci_parent_bus_reset() finds the device not alone on its bus
 *    after prepare, no reset (-ENOTTY: the FIXME's "reset skipped");
 *  - rst-failed: ACPI _RST fails ("ACPI _RST failed", -ENOTTY);
 *  - not-d0: pci_pm_reset() of a function not in D0 (-EINVAL, before prepare);
 *  - ack-timeout: reset_hinic_vf_dev()'s firmware does not acknowledge the
 *    FLR ("Reset dev timeout, FLR ack reg: …", -ETIMEDOUT).
 */
export const RESET_OUTCOMES = ['ok', 'unsupported', 'not-ready', 'skipped', 'rst-failed', 'not-d0', 'ack-timeout'] as const;
export type ResetOutcome = (typeof RESET_OUTCOMES)[number];

/** What each outcome returns (an errno value). */
export const RESET_OUTCOME_RC: Readonly<Record<ResetOutcome, number>> = {
  ok: 0,
  unsupported: -ERRNO.ENOTTY!,
  'not-ready': -ERRNO.ENOTTY!,
  skipped: -ERRNO.ENOTTY!,
  'rst-failed': -ERRNO.ENOTTY!,
  'not-d0': -ERRNO.EINVAL!,
  'ack-timeout': -ERRNO.ETIMEDOUT!,
};

/** The outcomes each method's code in the PCI core can have. */
export const RESET_METHOD_OUTCOMES: Readonly<Record<ResetMethod, readonly ResetOutcome[]>> = {
  flr: ['ok', 'unsupported', 'not-ready'],
  af_flr: ['ok', 'unsupported', 'not-ready'],
  pm: ['ok', 'unsupported', 'not-d0', 'not-ready'],
  bus: ['ok', 'unsupported', 'skipped', 'not-ready'],
  cxl_bus: ['ok', 'unsupported', 'skipped', 'not-ready'],
  acpi: ['ok', 'unsupported', 'rst-failed'],
  quirk: ['ok', 'unsupported', 'not-ready', 'ack-timeout'],
};

/**
 * The outcome a step's `result` (the format's field, without `outcome`)
 * stands for with its method: the one outcome of that method returning it
 * (-ENOTTY: `unsupported`, except `skipped` for the bus resets and
 * `rst-failed` for ACPI, as before outcomes existed), or 'as-given' when the
 * PCI core cannot return it for that method: the reset then runs and
 * returns the result as given, with a note.
 */
export function resetOutcomeOf(method: ResetMethod, result: number): ResetOutcome | 'as-given' {
  if (result === 0) return 'ok';
  const can = RESET_METHOD_OUTCOMES[method];
  if (result === -ERRNO.ENOTTY!)
    return method === 'bus' || method === 'cxl_bus' ? 'skipped' : method === 'acpi' ? 'rst-failed' : 'unsupported';
  const o = can.find((x) => x !== 'ok' && RESET_OUTCOME_RC[x] === result);
  return o ?? 'as-given';
}
