/**
 * Kernel variants a user can pick and compare. A preset sets every flag; a
 * flag switches one idea of the series on or off, so a reviewer can remove a
 * single patch and watch what breaks. See docs/POLICIES.md.
 */
export const POLICY_PRESETS = ['baseline', 'v4', 'driver-only'] as const;
export type PresetName = (typeof POLICY_PRESETS)[number];

export interface PolicyFlags {
  /** prepare/done re-entrant via reset_depth (seed 000; upstream 0d5fd7a9). Off: a nested prepare WARNs and fails with -EBUSY. */
  nestedResetFix: boolean;
  /** done() takes the reset result; a failed reset keeps the device blocked (seed 001, 003 #04). Off: done() always unblocks. */
  resetResultAware: boolean;
  /** The GERROR ISR marks atc_sync_timeouts and the issuer returns -EIO (003 #12). */
  atcTimeoutDetect: boolean;
  /** The issuer drains a pending CMDQ_ERR itself after a poll timeout or a full queue (003 #14-#16). */
  coClear: boolean;
  /** On -EIO, retry one ATC_INV per StreamID to find the broken master (003 #19-#24). Off: every ATS master in the batch is broken. */
  retryPerSid: boolean;
  /** iommu_report_device_broken() and its worker block the device in the core (003 #11). */
  coreQuarantine: boolean;
  /** ats_broken stops ATC_INVs and keeps an attach from turning EATS back on (003 #18, #23). */
  atsBrokenFence: boolean;
  /** Probe-mode resets skip prepare/done (003 #01). Off: a bus or device-specific reset probe blocks and unblocks the device. */
  probeSkipsPrepare: boolean;
  /**
   * The driver's quarantine also disables ATS at the endpoint (pci_disable_ats),
   * step 3 of the reviewer's design in the seed 003 thread. Off (v4): the driver
   * only clears STE.EATS and the core's blocking attach disables ATS later.
   */
  driverDisablesPciAts: boolean;
}

export const FLAG_NAMES = [
  'nestedResetFix',
  'resetResultAware',
  'atcTimeoutDetect',
  'coClear',
  'retryPerSid',
  'coreQuarantine',
  'atsBrokenFence',
  'probeSkipsPrepare',
  'driverDisablesPciAts',
] as const satisfies ReadonlyArray<keyof PolicyFlags>;
export type FlagName = (typeof FLAG_NAMES)[number];

export const PRESETS: Readonly<Record<PresetName, Readonly<PolicyFlags>>> = {
  /** Mainline as the v4 series found it (its base already carries the nested-reset fix). */
  baseline: {
    nestedResetFix: true,
    resetResultAware: false,
    atcTimeoutDetect: false,
    coClear: false,
    retryPerSid: false,
    coreQuarantine: false,
    atsBrokenFence: false,
    probeSkipsPrepare: false,
    driverDisablesPciAts: false,
  },
  /** The 24-patch v4 series of seed 003, on top of the nested-reset fix of seed 000. */
  v4: {
    nestedResetFix: true,
    resetResultAware: true,
    atcTimeoutDetect: true,
    coClear: true,
    retryPerSid: true,
    coreQuarantine: true,
    atsBrokenFence: true,
    probeSkipsPrepare: true,
    driverDisablesPciAts: false,
  },
  /** The reviewer's smaller design (seed 003 thread, replies to #11 and #19): no retry, no core worker. */
  'driver-only': {
    nestedResetFix: true,
    resetResultAware: true,
    atcTimeoutDetect: true,
    coClear: true,
    retryPerSid: false,
    coreQuarantine: false,
    atsBrokenFence: true,
    probeSkipsPrepare: true,
    driverDisablesPciAts: true,
  },
};

export const PRESET_DESCRIPTIONS: Readonly<Record<PresetName, string>> = {
  baseline:
    'Mainline before the quarantine series: an ATC invalidation timeout is only logged, ATS stays on, later invalidations time out again, and done() unblocks even after a failed reset.',
  v4: 'The v4 series: the GERROR ISR marks the timed-out CMD_SYNC, the issuer gets -EIO, retries per StreamID, clears STE.EATS and reports the device broken; the core quarantines it until a good reset.',
  'driver-only':
    "The reviewer's proposal: no per-SID retry (every ATS master in the failing batch is treated as broken), driver-level quarantine only, and a successful reset restores everything.",
};

export interface Policy {
  preset: PresetName;
  flags: PolicyFlags;
  label: string;
}

export function isPresetName(s: unknown): s is PresetName {
  return typeof s === 'string' && (POLICY_PRESETS as readonly string[]).includes(s);
}

/** Resolve a preset plus optional flag overrides. */
export function resolvePolicy(preset: PresetName, overrides: Partial<PolicyFlags> = {}): Policy {
  const base = PRESETS[preset];
  const pick = (f: FlagName): boolean => overrides[f] ?? base[f];
  // One literal with every flag rather than a spread of the preset (bench/README.md says why).
  const flags: PolicyFlags = {
    nestedResetFix: pick('nestedResetFix'),
    resetResultAware: pick('resetResultAware'),
    atcTimeoutDetect: pick('atcTimeoutDetect'),
    coClear: pick('coClear'),
    retryPerSid: pick('retryPerSid'),
    coreQuarantine: pick('coreQuarantine'),
    atsBrokenFence: pick('atsBrokenFence'),
    probeSkipsPrepare: pick('probeSkipsPrepare'),
    driverDisablesPciAts: pick('driverDisablesPciAts'),
  };
  const changed = FLAG_NAMES.filter((f) => flags[f] !== PRESETS[preset][f]);
  const label = changed.length === 0 ? preset : `${preset} (${changed.map((f) => `${flags[f] ? '+' : '-'}${f}`).join(', ')})`;
  return { preset, flags, label };
}
