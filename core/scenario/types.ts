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
export const SMMU_FAULT_KINDS = ['sfm', 'cmdq-abort'] as const;
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
  kernel?: { workerLatencyUs?: number };
  memory?: { pages?: number };
  domains?: DomainSpec[];
  groups: GroupSpec[];
  steps?: Step[];
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
  kernel: { workerLatencyUs: number };
  memory: { pages: number };
  domains: DomainSpec[];
  groups: Array<{ id: number; domain: string | null; devices: Array<Required<DeviceSpec>> }>;
  steps: Step[];
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
export const KERNEL_DEFAULTS = { workerLatencyUs: 10 };
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
