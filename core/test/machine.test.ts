/**
 * Unit tests of the group_device machine (core/machines/groupDevice.machine.ts)
 * and its pure driver (core/machines/drive.ts): the initial state and every
 * guard, each against the kernel code it stands for.
 *
 * Seeds: 000 (reset_depth, re-entrant prepare/done), 003 #03 (enum
 * gdev_blocked), #04 (done(reset_result)), #10 (__iommu_group_block_device,
 * severity order), #11 (iommu_report_device_broken, broken_pending, the
 * worker). Where seed 000 and upstream differ on done(), upstream is followed
 * (reference smmu-facts §6: `if (--gdev->reset_depth) return;` at the top).
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  BLOCKED_SEVERITY,
  BLOCKED_STATES,
  groupDeviceMachine,
  type Blocked,
  type GdevEvent,
  type GdevMachineState,
} from '../machines/groupDevice.machine.ts';
import { gdevCan, gdevInitial, gdevSend } from '../machines/drive.ts';
import { ALL_EVENTS, eventLabel, feasibleTransitions } from './mbt-support.ts';

const PREPARE: GdevEvent = { type: 'PREPARE' };
const DONE_OK: GdevEvent = { type: 'RESET_DONE', ok: true };
const DONE_FAILED: GdevEvent = { type: 'RESET_DONE', ok: false };
const REPORT: GdevEvent = { type: 'REPORT_BROKEN' };
const CLEAR: GdevEvent = { type: 'CLEAR_BROKEN_PENDING' };
const QUARANTINE: GdevEvent = { type: 'QUARANTINE' };

const BLOCKED: Blocked[] = ['RESETTING', 'RESET_FAILED', 'BROKEN'];

function st(value: Blocked, reset_depth: number, broken_pending = false, nestedResetFix = true): GdevMachineState {
  return { value, context: { reset_depth, broken_pending, nestedResetFix } };
}

/** Apply events in order; fails the test when the machine rejects one. */
function run(s: GdevMachineState, ...evs: GdevEvent[]): GdevMachineState {
  for (const e of evs) {
    const n = gdevSend(s, e);
    if (!n) throw new Error(`rejected ${eventLabel(e)} in ${s.value} ${JSON.stringify(s.context)}`);
    s = n;
  }
  return s;
}

describe('initial state', () => {
  // 003 #03: `BLOCKED_NO = 0, /* Not blocked */`; seed 000: `unsigned int reset_depth;` in a zeroed group_device;
  // 003 #11: `bool broken_pending;` starts false.
  it('is NO, reset_depth 0, broken_pending false, with the policy from the input', () => {
    for (const nestedResetFix of [true, false]) {
      expect(gdevInitial(nestedResetFix)).toEqual(st('NO', 0, false, nestedResetFix));
      const a = createActor(groupDeviceMachine, { input: { nestedResetFix } }).start();
      expect(a.getSnapshot().value).toBe('NO');
      expect(a.getSnapshot().context).toEqual({ reset_depth: 0, broken_pending: false, nestedResetFix });
      a.stop();
    }
  });

  // 003 #10: `/* A bigger number indicates a higher severity */` on enum gdev_blocked, whose order is
  // NO, RESETTING (#03), RESET_FAILED (#04), BROKEN (#11).
  it('orders the blocked states by severity as enum gdev_blocked does', () => {
    expect(BLOCKED_STATES).toEqual(['NO', 'RESETTING', 'RESET_FAILED', 'BROKEN']);
    expect(BLOCKED_STATES.map((b) => BLOCKED_SEVERITY[b])).toEqual([0, 1, 2, 3]);
  });
});

describe('PREPARE: pci_dev_reset_iommu_prepare()', () => {
  // Seed 000: `if (gdev->reset_depth++) return 0;` then block; 003 #03: `gdev->blocked = BLOCKED_RESETTING;`.
  it('blocks a device that is not blocked: NO → RESETTING, reset_depth 1', () => {
    expect(run(gdevInitial(true), PREPARE)).toEqual(st('RESETTING', 1));
    expect(run(gdevInitial(false), PREPARE)).toEqual(st('RESETTING', 1, false, false));
  });

  // Seed 000 removes `/* Re-entry is not allowed */ if (WARN_ON(group->resetting_domain)) return -EBUSY;`.
  it('rejects a nested prepare without the seed 000 fix', () => {
    for (const v of BLOCKED) {
      const s = st(v, 1, false, false);
      expect(gdevCan(s, PREPARE)).toBe(false);
      expect(gdevSend(s, PREPARE)).toBeNull();
    }
  });

  // Seed 000: a nested prepare only counts: `if (gdev->reset_depth++) return 0;`.
  it('with the seed 000 fix a nested prepare only increments reset_depth', () => {
    for (const v of BLOCKED) {
      expect(run(st(v, 1), PREPARE)).toEqual(st(v, 2));
      expect(run(st(v, 1, true), PREPARE)).toEqual(st(v, 2, true));
    }
    expect(run(gdevInitial(true), PREPARE, PREPARE, PREPARE)).toEqual(st('RESETTING', 3));
  });

  // 003 #04: `/* Device might be already blocked for a quarantine */ if (gdev->blocked) return 0;`, and #10:
  // `gdev->blocked = max(gdev->blocked, reason);` with reason BLOCKED_RESETTING.
  it('keeps the higher severity of a device that is already blocked (RESET_FAILED, BROKEN)', () => {
    for (const fix of [true, false]) {
      expect(run(st('RESET_FAILED', 0, false, fix), PREPARE)).toEqual(st('RESET_FAILED', 1, false, fix));
      expect(run(st('BROKEN', 0, true, fix), PREPARE)).toEqual(st('BROKEN', 1, true, fix));
    }
  });
});

describe('RESET_DONE: pci_dev_reset_iommu_done(pdev, reset_result)', () => {
  // Seed 000: `/* Unbalanced done() calls would underflow the counter */ if (WARN_ON(gdev->reset_depth == 0)) return;`
  it('is rejected at reset_depth 0, whatever the result', () => {
    for (const s of [st('NO', 0), st('NO', 0, true), st('RESET_FAILED', 0), st('BROKEN', 0), st('BROKEN', 0, true)]) {
      for (const e of [DONE_OK, DONE_FAILED]) {
        expect(gdevCan(s, e), `${eventLabel(e)} in ${s.value}`).toBe(false);
        expect(gdevSend(s, e)).toBeNull();
      }
    }
  });

  // Upstream (smmu-facts §6): `if (--gdev->reset_depth) return;` before any use of reset_result (003 #04 adds
  // its check after it), so an inner call only decrements, even when its own reset failed.
  it('an inner done() only decrements reset_depth, success or failure', () => {
    for (const v of BLOCKED) {
      for (const pending of [false, true]) {
        expect(run(st(v, 2, pending), DONE_OK)).toEqual(st(v, 1, pending));
        expect(run(st(v, 2, pending), DONE_FAILED)).toEqual(st(v, 1, pending));
      }
    }
  });

  // 003 #04, success: `gdev->blocked = BLOCKED_NO;` (and recovery_cnt--), from any blocked state.
  it('the outermost successful done() unblocks: RESETTING, RESET_FAILED, BROKEN → NO, reset_depth 0', () => {
    for (const v of BLOCKED) expect(run(st(v, 1), DONE_OK)).toEqual(st('NO', 0));
  });

  // 003 #04: `if (gdev->blocked == BLOCKED_RESETTING) gdev->blocked = BLOCKED_RESET_FAILED; return;` and #10:
  // `WARN_ON(__iommu_group_block_device(gdev, BLOCKED_RESET_FAILED));` which only raises the severity.
  it('the outermost failed done() keeps the device blocked at >= RESET_FAILED, reset_depth 0', () => {
    expect(run(st('RESETTING', 1), DONE_FAILED)).toEqual(st('RESET_FAILED', 0));
    expect(run(st('RESET_FAILED', 1), DONE_FAILED)).toEqual(st('RESET_FAILED', 0));
    expect(run(st('BROKEN', 1), DONE_FAILED)).toEqual(st('BROKEN', 0));
    // A failed reset leaves a pending report alone: only the success path clears it (003 #11).
    expect(run(st('RESETTING', 1, true), DONE_FAILED)).toEqual(st('RESET_FAILED', 0, true));
  });

  // Seed 000 + 003 #04: a nested reset whose outer call fails stays blocked; the next good reset recovers it.
  it('a nested reset: the outer result decides', () => {
    const s = run(gdevInitial(true), PREPARE, PREPARE, DONE_OK);
    expect(s).toEqual(st('RESETTING', 1));
    const failed = run(s, DONE_FAILED);
    expect(failed).toEqual(st('RESET_FAILED', 0));
    expect(run(failed, PREPARE, CLEAR, DONE_OK)).toEqual(st('NO', 0));
  });
});

describe('REPORT_BROKEN: iommu_report_device_broken()', () => {
  // 003 #11: `WRITE_ONCE(gdev->broken_pending, true); schedule_work(&gdev->broken_work);` from any context,
  // whatever the device's state; nothing else changes until the worker runs.
  it('sets broken_pending in every state and changes nothing else', () => {
    for (const s of feasibleTransitions(true).states) {
      expect(run(s, REPORT)).toEqual({ value: s.value, context: { ...s.context, broken_pending: true } });
    }
  });
});

describe('QUARANTINE: iommu_group_broken_worker()', () => {
  // 003 #11: `/* A successful reset between schedule_work() and now would have cleared broken_pending. */
  // if (!READ_ONCE(gdev->broken_pending)) return;`
  it('is rejected without broken_pending, in every state', () => {
    for (const s of feasibleTransitions(true).states.filter((x) => !x.context.broken_pending)) {
      expect(gdevCan(s, QUARANTINE), `${s.value} ${s.context.reset_depth}`).toBe(false);
    }
  });

  // 003 #11: `__iommu_group_block_device(gdev, BLOCKED_BROKEN)` then `WRITE_ONCE(gdev->broken_pending, false);`;
  // #10: the helper "does not bother the gdev->reset_depth counter" and escalates with max().
  it('blocks at BROKEN from any state, clears broken_pending and keeps reset_depth', () => {
    expect(run(st('NO', 0, true), QUARANTINE)).toEqual(st('BROKEN', 0));
    for (const v of BLOCKED) {
      for (const d of [0, 1, 2]) {
        if (v === 'RESETTING' && d === 0) continue; // RESETTING always has a reset in flight
        expect(run(st(v, d, true), QUARANTINE)).toEqual(st('BROKEN', d));
      }
    }
  });

  // 003 #11: after the worker, the device stays quarantined until a successful reset.
  it('a quarantined device recovers only through a successful reset', () => {
    const broken = run(gdevInitial(true), REPORT, QUARANTINE);
    expect(broken).toEqual(st('BROKEN', 0));
    expect(run(broken, PREPARE, DONE_FAILED)).toEqual(st('BROKEN', 0));
    expect(run(broken, PREPARE, CLEAR, DONE_OK)).toEqual(st('NO', 0));
  });
});

describe('CLEAR_BROKEN_PENDING: the successful done() after reset_device_done()', () => {
  // 003 #04: `if (WARN_ON(!gdev->blocked)) return;` comes before #11's `WRITE_ONCE(gdev->broken_pending, false);`,
  // so it is never cleared on a device that is not blocked.
  it('is rejected in NO', () => {
    expect(gdevCan(st('NO', 0), CLEAR)).toBe(false);
    expect(gdevSend(st('NO', 0, true), CLEAR)).toBeNull();
  });

  it('clears broken_pending of a blocked device and changes nothing else', () => {
    for (const v of BLOCKED) expect(run(st(v, 1, true), CLEAR)).toEqual(st(v, 1));
  });

  // 003 #11: "Clear broken_pending after the reset_device_done callback to neutralize any stale pre-reset report",
  // so the worker queued by that report finds nothing to do.
  it('neutralises a stale pre-reset report', () => {
    const s = run(gdevInitial(true), REPORT, PREPARE, CLEAR, DONE_OK);
    expect(s).toEqual(st('NO', 0));
    expect(gdevCan(s, QUARANTINE)).toBe(false);
  });
});

describe('severity', () => {
  // 003 #10: `gdev->blocked = max(gdev->blocked, reason);` — only the successful done() (#04) lowers it, to NO.
  it('never decreases except through the outermost successful done(), over every reachable state and event', () => {
    const { states } = feasibleTransitions(true);
    expect(states.length).toBe(18);
    let checked = 0;
    for (const s of states) {
      for (const e of ALL_EVENTS) {
        const n = gdevSend(s, e);
        if (!n) continue;
        checked++;
        const outermostOk = e.type === 'RESET_DONE' && e.ok && s.context.reset_depth === 1;
        if (outermostOk) expect(n.value).toBe('NO');
        else
          expect(BLOCKED_SEVERITY[n.value], `${eventLabel(e)} in ${s.value}`).toBeGreaterThanOrEqual(BLOCKED_SEVERITY[s.value]);
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('BROKEN is left only by the outermost successful done()', () => {
    for (const s of feasibleTransitions(true).states.filter((x) => x.value === 'BROKEN')) {
      for (const e of ALL_EVENTS) {
        const n = gdevSend(s, e);
        if (!n || n.value === 'BROKEN') continue;
        expect([eventLabel(e), s.context.reset_depth, n.value]).toEqual(['RESET_DONE(ok)', 1, 'NO']);
      }
    }
  });
});

describe('drive.ts over plain data', () => {
  // The kernel model keeps only plain data (util.ts gdevEvent): a rejected event must leave it untouched.
  it('gdevSend returns null for a rejected event and never mutates its input; gdevCan agrees', () => {
    for (const s of feasibleTransitions(true).states) {
      for (const e of ALL_EVENTS) {
        const copy = structuredClone(s);
        const n = gdevSend(s, e);
        expect(s).toEqual(copy);
        expect(gdevCan(s, e)).toBe(n !== null);
      }
    }
  });

  it('a live actor ignores a rejected event (RESET_DONE at reset_depth 0)', () => {
    const a = createActor(groupDeviceMachine, { input: { nestedResetFix: true } }).start();
    a.send(DONE_OK);
    expect(a.getSnapshot().value).toBe('NO');
    expect(a.getSnapshot().context.reset_depth).toBe(0);
    a.send(PREPARE);
    a.send(REPORT);
    a.send(QUARANTINE);
    expect(a.getSnapshot().value).toBe('BROKEN');
    expect(a.getSnapshot().context).toEqual({ reset_depth: 1, broken_pending: false, nestedResetFix: true });
    a.stop();
  });
});
