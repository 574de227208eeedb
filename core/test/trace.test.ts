/**
 * The trace's words and what the views ask of it (core/trace.ts): every
 * record of every built-in has words, the causal chain leads from a
 * quarantine back to the step that caused it, and the timeline marks are
 * the records worth finding again.
 */
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { POLICY_PRESETS } from '../policy/index.ts';
import { validateScenario } from '../scenario/validate.ts';
import { Timeline } from '../timeline.ts';
import {
  causalChain,
  describeRecord,
  lastRecoveryCntRecord,
  lastStateRecord,
  recordDevice,
  traceLayer,
  traceMark,
  type TraceKind,
  type TraceRecord,
} from '../trace.ts';

describe('explanations', () => {
  it('the chain behind a BROKEN device runs from its scenario step through the CMD_SYNC timeout (seed 003 #11, #12, #24)', () => {
    const v = validateScenario(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    if (!v.ok) throw new Error('invalid');
    const tl = new Timeline(v.scenario, {});
    const id = lastStateRecord(tl.trace, '0000:01:00.0', tl.trace.length)!;
    const r = tl.trace[id]!;
    expect(r.kind).toBe('gdev.state');
    expect(r.kind === 'gdev.state' && r.d.to).toBe('BROKEN');
    const { chain, more } = causalChain(tl.trace, id);
    expect(more).toBe(false);
    const kinds = chain.map((r) => r.kind).reverse();
    expect(kinds[0]).toBe('step');
    const order: TraceKind[] = [
      'atc.inv.ignored',
      'cmdq.error',
      'gerror.toggle',
      'irq.gerror',
      'atc_sync_timeouts.set',
      'atc_sync_timeouts.test',
      'quarantine.driver',
      'report_broken',
      'gdev.state',
    ];
    let at = 0;
    for (const k of order) {
      const i = kinds.indexOf(k, at);
      expect(i, `${k} after position ${at} in ${kinds.join(' ')}`).toBeGreaterThanOrEqual(at);
      at = i;
    }
    // Causes come before their effects.
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.id).toBeLessThan(chain[i - 1]!.id);
    const words = chain.map(describeRecord).join('\n');
    expect(words).toContain('CMDQ_CONS.ERR = CERROR_ATC_INV_SYNC');
    expect(words).toContain('GERROR.CMDQ_ERR');
    expect(words).toContain('returns -EIO');
    expect(words).not.toMatch(/undefined|\[object Object\]/);
  });

  it('every record of every built-in, under every preset, has words, not a raw dump', () => {
    for (const s of Object.values(BUILTIN_SCENARIOS))
      for (const policy of POLICY_PRESETS) {
        const v = validateScenario({ ...s, policy });
        if (!v.ok) throw new Error('invalid');
        const tl = new Timeline(v.scenario, {});
        for (const r of tl.trace) {
          const d = describeRecord(r);
          expect(d.startsWith(r.kind + ' {'), `${r.kind}: ${d}`).toBe(false);
          expect(d, r.kind).not.toMatch(/undefined|NaN|\[object Object\]/);
        }
      }
  });

  it('a causal chain stops at its root and at its limit', () => {
    const trace: TraceRecord[] = [0, 1, 2, 3].map((i) => ({ id: i, t: i, cause: i - 1, kind: 'irq.gerror', d: {} }));
    expect(causalChain(trace, 3).chain.map((r) => r.id)).toEqual([3, 2, 1, 0]);
    expect(causalChain(trace, 3, 2)).toEqual({ chain: [trace[3], trace[2]], more: true });
  });
});

describe('timeline marks and layers', () => {
  it('the default scenario marks the fault, the CMDQ errors and the state changes, nothing else', () => {
    const v = validateScenario(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    if (!v.ok) throw new Error('invalid');
    const tl = new Timeline(v.scenario, {});
    const marked = tl.trace.filter((r) => traceMark(r) !== null);
    expect(new Set(marked.map((r) => r.kind))).toEqual(
      new Set(['fault.inject', 'cmdq.error', 'quarantine.driver', 'gdev.state']),
    );
    // A state change marks only when the state changes.
    for (const r of tl.trace) if (r.kind === 'gdev.state') expect(traceMark(r) !== null).toBe(r.d.from !== r.d.to);
    expect(marked.map((r) => traceMark(r)!.label)).toContain('0000:01:00.0: NO → BROKEN');
  });

  it('records belong to the view of the layer that made them', () => {
    const v = validateScenario(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    if (!v.ok) throw new Error('invalid');
    const tl = new Timeline(v.scenario, {});
    const layer = (kind: string): string => traceLayer(tl.trace.find((r) => r.kind === kind)!);
    expect(layer('step')).toBe('step');
    expect(layer('cmdq.consume')).toBe('hw');
    expect(layer('atc.inv.ignored')).toBe('pci');
    expect(layer('gdev.state')).toBe('core');
    expect(layer('log')).toBe('log');
    expect(layer('cmdq.write')).toBe('kernel');
  });

  it("the record behind a group's recovery_cnt and the device a record names", () => {
    const v = validateScenario(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    if (!v.ok) throw new Error('invalid');
    const tl = new Timeline(v.scenario, {});
    const id = lastRecoveryCntRecord(tl.trace, 0, tl.trace.length)!;
    const r = tl.trace[id]!;
    expect(r.kind === 'recovery_cnt' && r.d.value).toBe(1);
    expect(lastRecoveryCntRecord(tl.trace, 0, 0)).toBeNull();
    expect(recordDevice(tl.trace[lastStateRecord(tl.trace, '0000:01:00.0', tl.trace.length)!]!)).toBe('0000:01:00.0');
    expect(recordDevice(tl.trace.find((x) => x.kind === 'cmdq.consume')!)).toBeNull();
  });
});
