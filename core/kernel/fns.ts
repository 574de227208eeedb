/**
 * Every kernel function the model runs as frames, by name, in one table:
 * the scheduler runs a frame with STEP_FNS[frame.id]. The type of
 * KERNEL_FNS makes the compiler check that each name of kernel/fn.ts has a
 * step function and that the function takes that name's frame.
 */
import { KERNEL_FN_NAMES, type Frame, type FnName } from './fn.ts';
import type { StepFn } from './state.ts';
import { CMDQ_FNS, type CmdqFrame } from './cmdq.ts';
import { DRIVER_FNS, type DriverFrame } from './driver.ts';
import { IOMMU_FNS, type IommuFrame } from './iommu.ts';
import { PCI_FNS, type PciFrame } from './pci.ts';

/** Every kernel function's frame. */
export type KernelFrame = CmdqFrame | DriverFrame | IommuFrame | PciFrame;

/** The frame of the function named K (a frame type may serve several names: the reset methods). */
export type FrameOf<K extends FnName> = KernelFrame extends infer F
  ? F extends { fn: infer N }
    ? K extends N
      ? F
      : never
    : never
  : never;

const KERNEL_FNS: { [K in FnName]: StepFn<FrameOf<K>> } = { ...CMDQ_FNS, ...DRIVER_FNS, ...IOMMU_FNS, ...PCI_FNS };

/**
 * The step functions by frame id. Each is typed for its own frame; a frame
 * reaches the function of its own id (FrameHead ties id to fn), so here
 * they are all taken as functions of a frame.
 */
export const STEP_FNS: ReadonlyArray<StepFn<Frame>> = KERNEL_FN_NAMES.map((n) => KERNEL_FNS[n] as unknown as StepFn<Frame>);
