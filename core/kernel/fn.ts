/**
 * The kernel functions the model runs as frames (the ones that can wait),
 * each by its kernel name. A frame names its function twice: by `fn`, its
 * name, and by `id`, the function's index in this list, which is what the
 * scheduler runs it by (kernel/fns.ts holds the function for each name).
 *
 * To add one: append its name here, declare its frame (an interface
 * extending FrameHead with its resume points and locals) beside its step
 * function, and list the function in kernel/fns.ts; the compiler checks
 * that every name has a function taking its frame.
 */
export const KERNEL_FN_NAMES = [
  // drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: the command queue and interrupts
  'arm_smmu_cmdq_issue_cmdlist',
  'arm_smmu_cmdq_batch_add_cmd',
  'arm_smmu_cmdq_batch_submit',
  'arm_smmu_cmdq_batch_issue',
  'arm_smmu_cmdq_batch_retry',
  'arm_smmu_cmdq_batch_blame_all',
  'arm_smmu_master_disable_ats',
  'arm_smmu_gerror_handler',
  'arm_smmu_evtq_thread',
  // the rest of the driver
  'arm_smmu_write_ste',
  'arm_smmu_attach_dev',
  'arm_smmu_atc_inv_master',
  '__arm_smmu_domain_inv_range',
  'arm_smmu_set_dev_pasid',
  'arm_smmu_remove_dev_pasid',
  'arm_smmu_reset_device_done',
  'arm_smmu_release_device',
  // drivers/iommu/iommu.c
  '__iommu_group_block_device',
  'pci_dev_reset_iommu_prepare',
  'pci_dev_reset_iommu_done',
  'iommu_group_broken_worker',
  'iommu_attach_group',
  'iommu_attach_device_pasid',
  'iommu_deferred_attach',
  'iommu_release_device',
  'iommu_unmap',
  // drivers/pci: pci_reset_function() and the reset methods
  'pci_reset_function',
  'pcie_reset_flr',
  'pcie_flr',
  'pci_af_flr',
  'pci_pm_reset',
  'pci_reset_bus_function',
  'cxl_reset_bus_function',
  'pci_dev_acpi_reset',
  'pci_dev_specific_reset',
  // a scenario's raw command, issued through arm_smmu_cmdq_issue_cmdlist()
  'step_cmd',
  // drivers/iommu/iommu.c: a map that had to wait for a CPU
  'iommu_map',
] as const;

type Names = typeof KERNEL_FN_NAMES;
export type FnName = Names[number];

/** Each name's index in KERNEL_FN_NAMES, as a literal type (so a frame's `id` is checked against its `fn`). */
export type FnIds = {
  [I in keyof Names as I extends `${number}` ? Names[I] : never]: I extends `${infer N extends number}` ? N : never;
};

export const FN = Object.fromEntries(KERNEL_FN_NAMES.map((n, i) => [n, i])) as FnIds;

/**
 * What every frame holds besides its locals: the function it runs, where
 * it resumes (`pc`, one of the function's named resume points), and when
 * it was called.
 */
export interface FrameHead<K extends FnName = FnName> {
  fn: K;
  id: FnIds[K];
  pc: string;
  /** When the function was called (set by the scheduler on the call). */
  startNs: number;
}

/** A frame as the scheduler sees it: any kernel function's. */
export type Frame = FrameHead;
