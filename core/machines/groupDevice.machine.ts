/**
 * The state of one iommu group_device (drivers/iommu/iommu.c), as an XState
 * v5 machine. It owns `blocked` (enum gdev_blocked: NO, RESETTING,
 * RESET_FAILED, BROKEN — a bigger value is a higher severity), `reset_depth`
 * and `broken_pending`. The kernel model sends one event at each place the
 * kernel changes these fields, under group->mutex, and reads them back from
 * here; it keeps no copy of its own.
 *
 * Guards admit only the transitions the kernel can reach, so the machine is
 * also an executable statement of the rules: an event it rejects is reported
 * as an invariant violation.
 *
 * Events (one per kernel site):
 *  - PREPARE      pci_dev_reset_iommu_prepare(): reset_depth++; the outermost
 *                 call blocks the device (BLOCKED_RESETTING, or keeps a higher
 *                 severity through __iommu_group_block_device()).
 *  - RESET_DONE   pci_dev_reset_iommu_done(): `--reset_depth` at the top;
 *                 only the outermost call (depth reaching 0) acts: ok=true
 *                 unblocks (BLOCKED_NO), ok=false keeps the device blocked
 *                 at >= BLOCKED_RESET_FAILED (seed 003 #04).
 *  - CLEAR_BROKEN_PENDING  done() on a successful reset, right after the
 *                 driver's reset_device_done(): neutralises a stale report
 *                 (seed 003 #11). Only on a blocked device.
 *  - REPORT_BROKEN iommu_report_device_broken(): broken_pending = true.
 *  - QUARANTINE   iommu_group_broken_worker(): block at BLOCKED_BROKEN and
 *                 clear broken_pending (only while broken_pending is set).
 */
import { assign, setup } from 'xstate';

export const BLOCKED_STATES = ['NO', 'RESETTING', 'RESET_FAILED', 'BROKEN'] as const;
export type Blocked = (typeof BLOCKED_STATES)[number];

/** enum gdev_blocked values; a bigger number is a higher severity. */
export const BLOCKED_SEVERITY: Readonly<Record<Blocked, number>> = { NO: 0, RESETTING: 1, RESET_FAILED: 2, BROKEN: 3 };

export interface GdevContext {
  reset_depth: number;
  broken_pending: boolean;
  /** Policy: prepare/done are re-entrant (seed 000). Without it a nested prepare is refused by the kernel before it reaches the machine. */
  nestedResetFix: boolean;
}

export type GdevEvent =
  | { type: 'PREPARE' }
  | { type: 'RESET_DONE'; ok: boolean }
  | { type: 'REPORT_BROKEN' }
  | { type: 'CLEAR_BROKEN_PENDING' }
  | { type: 'QUARANTINE' };

export interface GdevInput {
  nestedResetFix: boolean;
}

export const groupDeviceMachine = setup({
  types: {
    context: {} as GdevContext,
    events: {} as GdevEvent,
    input: {} as GdevInput,
  },
  guards: {
    /** `if (gdev->reset_depth++) return 0;` — nesting needs the seed 000 fix. */
    mayPrepare: ({ context }) => context.reset_depth === 0 || context.nestedResetFix,
    /** An inner done() only decrements reset_depth. */
    innerDone: ({ context }) => context.reset_depth > 1,
    outermostOk: ({ context, event }) => context.reset_depth === 1 && event.type === 'RESET_DONE' && event.ok,
    outermostFailed: ({ context, event }) => context.reset_depth === 1 && event.type === 'RESET_DONE' && !event.ok,
    pending: ({ context }) => context.broken_pending,
  },
  actions: {
    incDepth: assign({ reset_depth: ({ context }) => context.reset_depth + 1 }),
    decDepth: assign({ reset_depth: ({ context }) => context.reset_depth - 1 }),
    setPending: assign({ broken_pending: true }),
    clearPending: assign({ broken_pending: false }),
    unblock: assign({ reset_depth: 0 }),
    lastDone: assign({ reset_depth: 0 }),
  },
}).createMachine({
  id: 'group_device',
  initial: 'NO',
  context: ({ input }) => ({ reset_depth: 0, broken_pending: false, nestedResetFix: input.nestedResetFix }),
  on: {
    REPORT_BROKEN: { actions: 'setPending' },
  },
  states: {
    NO: {
      on: {
        PREPARE: { guard: 'mayPrepare', target: 'RESETTING', actions: 'incDepth' },
        QUARANTINE: { guard: 'pending', target: 'BROKEN', actions: 'clearPending' },
      },
    },
    RESETTING: {
      on: {
        PREPARE: { guard: 'mayPrepare', actions: 'incDepth' },
        RESET_DONE: [
          { guard: 'innerDone', actions: 'decDepth' },
          { guard: 'outermostOk', target: 'NO', actions: 'unblock' },
          { guard: 'outermostFailed', target: 'RESET_FAILED', actions: 'lastDone' },
        ],
        QUARANTINE: { guard: 'pending', target: 'BROKEN', actions: 'clearPending' },
        CLEAR_BROKEN_PENDING: { actions: 'clearPending' },
      },
    },
    RESET_FAILED: {
      on: {
        PREPARE: { guard: 'mayPrepare', actions: 'incDepth' },
        RESET_DONE: [
          { guard: 'innerDone', actions: 'decDepth' },
          { guard: 'outermostOk', target: 'NO', actions: 'unblock' },
          { guard: 'outermostFailed', actions: 'lastDone' },
        ],
        QUARANTINE: { guard: 'pending', target: 'BROKEN', actions: 'clearPending' },
        CLEAR_BROKEN_PENDING: { actions: 'clearPending' },
      },
    },
    BROKEN: {
      on: {
        PREPARE: { guard: 'mayPrepare', actions: 'incDepth' },
        RESET_DONE: [
          { guard: 'innerDone', actions: 'decDepth' },
          { guard: 'outermostOk', target: 'NO', actions: 'unblock' },
          { guard: 'outermostFailed', actions: 'lastDone' },
        ],
        QUARANTINE: { guard: 'pending', actions: 'clearPending' },
        CLEAR_BROKEN_PENDING: { actions: 'clearPending' },
      },
    },
  },
});

/** The persisted (plain data) form kept in the simulation state. */
export interface GdevMachineState {
  value: Blocked;
  context: GdevContext;
}
