/**
 * What the views keep showing after it passes (core/trace.ts): each GERROR
 * bit's raises and acknowledgements, and the ATC invalidation that timed out
 * while the command queue is stopped on it. Read from the spam-vs-quarantine
 * run: two ATC_INVs to the unresponsive NVMe time out, each CMD_SYNC stops
 * with CERROR_ATC_INV_SYNC, arm_smmu_gerror_handler() acknowledges CMDQ_ERR
 * by writing GERRORN, and the SMMU consumes the CMD_SYNC again (seed 003 #12,
 * #13–#16; arm_smmu_cmdq_skip_err() in the kernel).
 */
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { validateScenario } from '../scenario/validate.ts';
import { Timeline } from '../timeline.ts';
import { STICKY_KINDS, gerrorHistory, overdueAtcInvs, type TraceRecord } from '../trace.ts';

function spam(): Timeline {
  const v = validateScenario(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
  if (!v.ok) throw new Error('invalid');
  const tl = new Timeline(v.scenario, {});
  tl.record(Number.POSITIVE_INFINITY);
  return tl;
}
const first = (trace: TraceRecord[], kind: TraceRecord['kind'], from = 0): TraceRecord =>
  trace.find((r) => r.kind === kind && r.id >= from)!;

describe('GERROR history', () => {
  const tl = spam();
  const sticky = tl.trace.filter((r) => STICKY_KINDS.has(r.kind));

  it('counts each raise and acknowledgement of CMDQ_ERR and keeps the time of the last of each', () => {
    const end = gerrorHistory(sticky, tl.trace.length);
    const toggles = tl.trace.filter((r) => r.kind === 'gerror.toggle');
    const acks = tl.trace.filter((r) => r.kind === 'gerrorn.write');
    expect(toggles.length).toBe(2);
    expect(end[0]).toEqual({ raised: 2, acked: 2, lastRaiseNs: toggles[1]!.t, lastAckNs: acks[1]!.t });
    // No other bit moved.
    for (let b = 1; b < 32; b++) expect(end[b]!.raised + end[b]!.acked).toBe(0);
  });

  it('at a moment between the raise and the ack the bit has one raise and no ack yet', () => {
    const raise = first(tl.trace, 'gerror.toggle');
    const h = gerrorHistory(sticky, raise.id + 1)[0]!;
    expect(h).toEqual({ raised: 1, acked: 0, lastRaiseNs: raise.t, lastAckNs: null });
    expect(gerrorHistory(sticky, raise.id)[0]!.raised).toBe(0);
  });
});

describe('overdue ATC invalidations', () => {
  const tl = spam();
  const sticky = tl.trace.filter((r) => STICKY_KINDS.has(r.kind));
  const view = (upTo: number) => {
    const pos = tl.positionOfTrace(upTo - 1);
    const v = tl.seek(pos);
    return { v, len: tl.data.traceLen[pos]! };
  };

  it('an ATC_INV past its deadline stays overdue while CONS stays at the CMD_SYNC that stopped on it', () => {
    const timeout = first(tl.trace, 'atc.inv.timeout');
    const { v, len } = view(timeout.id + 1);
    // CMD_SYNC in slot 3 stopped with CERROR_ATC_INV_SYNC; the GERROR interrupt has not run yet.
    const err = first(tl.trace, 'cmdq.error');
    if (err.kind !== 'cmdq.error') throw new Error('no cmdq.error');
    expect(err.d.cerror).toBe('CERROR_ATC_INV_SYNC');
    const o = overdueAtcInvs(sticky, len, v.cmdq.cons, v.cmdq.log2);
    expect(o).toEqual([{ req: 1, sid: 0x100, t: timeout.t, slot: err.d.slot }]);
    // Still overdue once the handler has acknowledged the error (GERRORN written), before the SMMU consumes the sync again.
    const ack = first(tl.trace, 'gerrorn.write');
    const a = view(ack.id + 1);
    expect(overdueAtcInvs(sticky, a.len, a.v.cmdq.cons, a.v.cmdq.log2).map((x) => x.req)).toEqual([1]);
  });

  it('is dropped once the SMMU consumes the CMD_SYNC again and CONS moves on', () => {
    const ack = first(tl.trace, 'gerrorn.write');
    const consumed = tl.trace.find((r) => r.kind === 'cmdq.consume' && r.id > ack.id && r.d.op === 'CMD_SYNC')!;
    const { v, len } = view(consumed.id + 1);
    expect(overdueAtcInvs(sticky, len, v.cmdq.cons, v.cmdq.log2)).toEqual([]);
  });

  it('nothing is overdue before the first deadline passes', () => {
    const sent = first(tl.trace, 'atc.inv.send');
    const { v, len } = view(sent.id + 1);
    expect(overdueAtcInvs(sticky, len, v.cmdq.cons, v.cmdq.log2)).toEqual([]);
  });
});
