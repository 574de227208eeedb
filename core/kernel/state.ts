/**
 * Kernel-side state: the IOMMU core (groups, group_devices, domains), the
 * arm-smmu-v3 driver (masters, the cmdq shadow and atc_sync_timeouts
 * bitmap, invalidation arrays), kernel tasks and locks.
 */
import type { PolicyFlags } from '../policy/index.ts';
import { BLOCKED_DOMAIN_ID } from '../scenario/types.ts';
import type { GdevMachineState } from '../machines/groupDevice.machine.ts';
import type { PciWorld } from '../pci/endpoint.ts';
import type { Frame, LockState, Task, Yield } from './task.ts';

export interface KernelCfg {
  flags: PolicyFlags;
  policyLabel: string;
  pollTimeoutNs: number;
  workerLatencyNs: number;
  /** CMDQ_BATCH_ENTRIES (64), reduced for rings Linux itself would refuse. */
  batchEntries: number;
  /** Number of CPUs (the scenario's kernel.cpus). */
  cpus: number;
}

/** enum arm_smmu_inv_type, reduced to what the model uses. */
export type InvType = 'S1_ASID' | 'ATS';
export interface Inv {
  type: InvType;
  /** ASID for S1_ASID, StreamID for ATS. */
  id: number;
  ssid: number;
  /** Owning master for ATS entries (bdf). */
  master: string | null;
  users: number;
}

/**
 * struct arm_smmu_cmdq_batch: commands gathered before one issue. Batches
 * are pooled (kernel/cmdq.ts newBatch/freeBatch), so the typed arrays are
 * allocated once per batch object, and the issue copies the words into the
 * ring as a block.
 */
export interface Batch {
  /**
   * Command words, four per command, room for the run's batch size
   * (CMDQ_BATCH_ENTRIES commands unless the ring is smaller). Only the
   * first num * 4 words are live.
   */
  cmds: Uint32Array;
  /** cmds->num */
  num: number;
  /** cmds->has_ats: an ATC_INV was queued (seed 003 #19). */
  hasAts: boolean;
  /** How many of the live commands are ATC_INVs (for the issued count). */
  atcInvs: number;
  /** cmds->invs: the invalidation array the batch was built from, for the retry (#19, #22). */
  invs: Inv[] | null;
  /**
   * For each live command, when its path last checked ats_broken: at add time in
   * __arm_smmu_domain_inv_range(), at the start in arm_smmu_atc_inv_master()
   * (for the "no ATC_INV to a broken master" invariant).
   */
  addedNs: Float64Array;
}

export interface KDomain {
  id: string;
  type: 'paging' | 'identity' | 'blocked';
  /** Index used as the page owner in memory. */
  index: number;
  asid: number;
  /** IO page table base (its key in mem.pgtables). */
  ttb: number;
  /**
   * arm_smmu_invs: sorted S1_ASID entry then ATS entries by (SID, SSID).
   * Replaced, never changed in place, when masters come and go (the kernel
   * swaps the array under RCU), so an invalidation in progress keeps the
   * array it started with.
   */
  invs: Inv[];
  /** iova pfn → pfn (PTE_INVALID once unmapped), the kernel's view of what it mapped. */
  mapped: Map<number, number>;
}

export interface KGroup {
  id: number;
  /** group->domain */
  domain: string | null;
  /** group->default_domain */
  defaultDomain: string | null;
  /** group->blocking_domain allocated */
  blockingDomain: boolean;
  recoveryCnt: number;
  /** pasid → domain id (group->pasid_array) */
  pasidArray: Record<number, string>;
  devices: string[];
}

export interface KGdev {
  bdf: string;
  group: number;
  /** blocked, reset_depth and broken_pending live in the machine. */
  m: GdevMachineState;
  present: boolean;
  /** broken_work queued (schedule_work returns false while it is). */
  workQueued: boolean;
  /** Last blocked state before removal (for reports of unplugged devices). */
}

export interface KMaster {
  bdf: string;
  sids: number[];
  atsCap: boolean;
  pasidCap: boolean;
  driver: string;
  /** master->ats_enabled (ATS on in the STE and at the endpoint). */
  atsEnabled: boolean;
  /** master->ats_broken (seed 003 #18). */
  atsBroken: boolean;
  atsBrokenSinceNs: number;
  /** Domain the driver last attached the RID to ('__blocked' for the blocking domain). */
  domain: string | null;
  /** pasid → domain id attached through set_dev_pasid. */
  pasids: Record<number, string>;
  /** Context-descriptor table address. */
  cdTab: number;
  present: boolean;
}

export interface KStats {
  atcInvIssued: number;
  gerrorIrqs: number;
  quarantines: number;
  unquarantines: number;
}

export interface KernelState {
  cmdq: {
    /** Shadow llq.prod: the next free slot (index + wrap). */
    prod: number;
    /** Shadow llq.cons, refreshed from the HW register. */
    cons: number;
    /** cmdq->atc_sync_timeouts, one bit per slot (seed 003 #12). */
    atcSyncTimeouts: Uint8Array;
    /** Trace id of the record that set each bit. */
    bitCause: Int32Array;
  };
  /** By id (a Map: the ids are the scenario's, any string the id rules allow). */
  domains: Map<string, KDomain>;
  groups: Record<number, KGroup>;
  groupOrder: number[];
  gdevs: Record<string, KGdev>;
  masters: Record<string, KMaster>;
  /** smmu->streams: SID → master bdf. */
  streams: Record<number, string>;
  /** Live kernel tasks, in order of creation (so of id). */
  tasks: Task[];
  nextTask: number;
  locks: Record<string, LockState>;
  ratelimit: Record<string, { begin: number; printed: number; missed: number }>;
  stats: KStats;
  nextAsid: number;
  /** Injected steps not from the scenario file (the app's clicks), by index. */
  steps: unknown[];
  /** Tasks waiting in a poll (CMD_SYNC or queue space). */
  pollers: number[];
  /** CONS generation the pollers were last checked at. */
  pollCheckedGen: number;
  /** Set when state the invariants read has changed since the last check. */
  invDirty: boolean;
  /** Violations already reported (key → 1), so each is reported once. */
  violKeys: Record<string, 1>;
  /** Number of present masters with ats_broken set (0 lets the invalidation paths skip the per-master checks). */
  brokenMasters: number;
  /**
   * Command batches no frame uses any more, reused by the next
   * arm_smmu_cmdq_batch_init_cmd() (in the kernel a batch lives on the
   * stack; here reuse keeps a storm from allocating one per unmap).
   */
  batchPool: Batch[];
  /**
   * Finished tasks, kept for the next spawn (a storm starts and ends a task
   * per unmap): the object and its stack arrays are reused, with a new id.
   * Nothing refers to a finished task (waits, events and locks name tasks
   * by id, and ids are never reused).
   */
  taskPool: Task[];
  /** Per CPU, the id of the task running on it, or -1 when it is idle (kernel/sched.ts). */
  cpus: number[];
  /** Tasks ready to run with no CPU free, in the order they became ready. */
  cpuWaiters: number[];
  /** The GERROR interrupt is raised but its CPU runs with interrupts masked: since when (ns), or -1. */
  gerrorIrqWaitNs: number;
}

export const BLOCKED_DOMAIN = BLOCKED_DOMAIN_ID;

export interface KWorld extends PciWorld {
  kcfg: KernelCfg;
  k: KernelState;
}

/** A kernel function as the model runs it: one step over its frame, returning what the task does next. */
export type StepFn<F extends Frame> = (w: KWorld, t: Task, f: F) => Yield;
