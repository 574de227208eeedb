/**
 * The page worker's recording pace (web/lib/recorder.ts), on a clock the
 * test drives: snapshots come as often as their cost allows (ten times as
 * long as the cheapest recent one took, between 2 ms and a 30 ms slice),
 * so a cheap world is snapshotted often and a dear one once per slice.
 */
import { describe, expect, it } from 'vitest';
import { Timeline, validateScenario, type ResolvedScenario } from '../../core/index.ts';
import { MIN_SPACING_MS, RECORDING_OPTIONS, SLICE_MS, recordAll, snapshotSpacing } from '../lib/recorder.ts';
import { longStorm } from '../../bench/long-storm.ts';

function resolved(): ResolvedScenario {
  const v = validateScenario(longStorm(4, 1000));
  if (!v.ok) throw new Error('invalid scenario');
  return v.scenario;
}

/** Record the whole run on a clock where 256 events take `strideMs` and each snapshot takes what `cost(i)` says. */
function record(sc: ResolvedScenario, strideMs: number, cost: (i: number) => number): { tl: Timeline; strides: number } {
  let t = 0;
  let strides = 0;
  let taken = 0;
  const tl = new Timeline(sc, RECORDING_OPTIONS);
  const checkpoint = tl.checkpoint.bind(tl);
  tl.checkpoint = () => {
    const ok = checkpoint();
    if (ok) t += cost(taken++);
    return ok;
  };
  const record = tl.record.bind(tl);
  tl.record = (n) => {
    strides++;
    t += strideMs;
    return record(n);
  };
  recordAll(tl, () => t);
  return { tl, strides };
}

describe('recording pace', () => {
  it('the spacing is ten times the snapshot cost, between MIN_SPACING_MS and SLICE_MS', () => {
    expect(snapshotSpacing(null)).toBe(MIN_SPACING_MS);
    expect(snapshotSpacing(0.01)).toBe(MIN_SPACING_MS);
    expect(snapshotSpacing(0.5)).toBe(5);
    expect(snapshotSpacing(2)).toBe(20);
    expect(snapshotSpacing(4)).toBe(SLICE_MS);
  });

  it('cheap snapshots come every few strides, dear ones once per slice; one slow snapshot does not stretch the spacing', () => {
    const sc = resolved();
    const cheap = record(sc, 1, () => 0.1);
    const dear = record(sc, 1, () => 4);
    expect(cheap.tl.recording).toBe('done');
    expect(cheap.strides).toBeGreaterThan(30);
    // 0.1 ms snapshots: one per 2 ms of recording (the least), every other stride.
    expect(cheap.tl.snapshotCount).toBeGreaterThanOrEqual(Math.floor(cheap.strides / 2));
    expect(cheap.tl.snapshotCount).toBeLessThanOrEqual(Math.ceil(cheap.strides / 2) + 1);
    // 4 ms snapshots: one per 30 ms slice.
    expect(dear.tl.snapshotCount).toBeLessThanOrEqual(Math.ceil(dear.strides / 30) + 1);
    expect(dear.tl.snapshotCount).toBeGreaterThan(1);
    // The first snapshot slowed (cold code, a collection): the cheapest recent one sets the pace.
    const spike = record(sc, 1, (i) => (i === 1 ? 40 : 0.1));
    expect(spike.tl.snapshotCount).toBeGreaterThanOrEqual(cheap.tl.snapshotCount - 1);
  });
});
