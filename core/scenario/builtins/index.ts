/**
 * Built-in scenarios, each reproducing one case from the seeds (its
 * `description` names the seed patch). The first is the app's default.
 */
import type { Scenario } from '../types.ts';
import spamVsQuarantine from './spam-vs-quarantine.json' with { type: 'json' };
import sharedBatch from './shared-batch.json' with { type: 'json' };
import recoveryFlr from './recovery-flr.json' with { type: 'json' };
import failedReset from './failed-reset.json' with { type: 'json' };
import resetEnotty from './reset-enotty.json' with { type: 'json' };
import nestedCxlReset from './nested-cxl-reset.json' with { type: 'json' };
import quirkResetTimeout from './quirk-reset-timeout.json' with { type: 'json' };
import attachDuringRecovery from './attach-during-recovery.json' with { type: 'json' };
import unplugQuarantined from './unplug-quarantined.json' with { type: 'json' };
import staleReport from './stale-report.json' with { type: 'json' };
import lateGerrorIsr from './late-gerror-isr.json' with { type: 'json' };
import illegalCommand from './illegal-command.json' with { type: 'json' };
import serviceFailureMode from './service-failure-mode.json' with { type: 'json' };
import probeReset from './probe-reset.json' with { type: 'json' };
import atschkOff from './atschk-off.json' with { type: 'json' };
import pollTimeoutFixme from './poll-timeout-before-atc-timeout.json' with { type: 'json' };
import attachRacesQuarantine from './attach-races-quarantine.json' with { type: 'json' };
import fewCpus from './few-cpus.json' with { type: 'json' };
import acpiRstFailed from './acpi-rst-failed.json' with { type: 'json' };
import ratelimit from './ratelimit.json' with { type: 'json' };
import pasidQuarantine from './pasid-quarantine.json' with { type: 'json' };
import nonAtsFunction from './non-ats-function.json' with { type: 'json' };
import probeQuirkReset from './probe-quirk-reset.json' with { type: 'json' };
import timeoutInPrepare from './timeout-in-prepare.json' with { type: 'json' };
import resetFailedToBroken from './reset-failed-to-broken.json' with { type: 'json' };
import brokenPending from './broken-pending.json' with { type: 'json' };
import staleSyncBitWrap from './stale-sync-bit-wrap.json' with { type: 'json' };
import retryMultiSid from './retry-multi-sid.json' with { type: 'json' };
import fullAtsBatch from './full-ats-batch.json' with { type: 'json' };
import coclearNoSpace from './coclear-no-space.json' with { type: 'json' };

export const BUILTIN_SCENARIOS: Record<string, Scenario> = {
  'spam-vs-quarantine': spamVsQuarantine as Scenario,
  'shared-batch': sharedBatch as Scenario,
  'recovery-flr': recoveryFlr as Scenario,
  'failed-reset': failedReset as Scenario,
  'reset-enotty': resetEnotty as Scenario,
  'nested-cxl-reset': nestedCxlReset as Scenario,
  'quirk-reset-timeout': quirkResetTimeout as Scenario,
  'attach-during-recovery': attachDuringRecovery as Scenario,
  'unplug-quarantined': unplugQuarantined as Scenario,
  'stale-report': staleReport as Scenario,
  'late-gerror-isr': lateGerrorIsr as Scenario,
  'illegal-command': illegalCommand as Scenario,
  'service-failure-mode': serviceFailureMode as Scenario,
  'probe-reset': probeReset as Scenario,
  'atschk-off': atschkOff as Scenario,
  'poll-timeout-before-atc-timeout': pollTimeoutFixme as Scenario,
  'attach-races-quarantine': attachRacesQuarantine as Scenario,
  'few-cpus': fewCpus as Scenario,
  'acpi-rst-failed': acpiRstFailed as Scenario,
  ratelimit: ratelimit as Scenario,
  'pasid-quarantine': pasidQuarantine as Scenario,
  'non-ats-function': nonAtsFunction as Scenario,
  'probe-quirk-reset': probeQuirkReset as Scenario,
  'timeout-in-prepare': timeoutInPrepare as Scenario,
  'reset-failed-to-broken': resetFailedToBroken as Scenario,
  'broken-pending': brokenPending as Scenario,
  'stale-sync-bit-wrap': staleSyncBitWrap as Scenario,
  'retry-multi-sid': retryMultiSid as Scenario,
  'full-ats-batch': fullAtsBatch as Scenario,
  'coclear-no-space': coclearNoSpace as Scenario,
};

export const DEFAULT_SCENARIO_ID = 'spam-vs-quarantine';

/**
 * The built-in scenario named `id`, or undefined. Only the table's own
 * entries count: "constructor", "toString" or "__proto__" name no scenario.
 */
export function builtinScenario(id: string): Scenario | undefined {
  return Object.hasOwn(BUILTIN_SCENARIOS, id) ? BUILTIN_SCENARIOS[id] : undefined;
}
