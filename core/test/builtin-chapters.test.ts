/**
 * Chapters for every built-in (the scenario's `chapters` field,
 * docs/SCENARIO-EXTENSIONS.md): 3–10 each, every `at` within the run under
 * v4 and at the moment it names — a chapter titled with a kernel message is
 * at, or just before, the log line that prints it.
 */
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { run } from './support.ts';

/** Chapter titles that name a kernel message, and the message. */
const NAMED: Array<[RegExp, string]> = [
  [/quarantined/i, 'IOMMU has quarantined the device'],
  [/unblocked after a successful reset/i, 'Device is unblocked after successful reset'],
  [/pci_dev_wait\(\) gives up/, 'giving up'],
  [/kept blocked conservatively/i, 'Keep it blocked conservatively'],
  [/Service Failure Mode/, 'device has entered Service Failure Mode'],
  [/ack times out/i, 'Reset dev timeout'],
];

/** The µs of the first log line holding `needle` (dmesg prints whole µs). */
function lineUs(log: string[], needle: string): number | null {
  const l = log.find((x) => x.includes(needle));
  const m = l && /^\[\s*(\d+)\.(\d{6})\]/.exec(l);
  return m ? Number(m[1]) * 1e6 + Number(m[2]) : null;
}

describe('chapters of the built-ins', () => {
  it('every built-in has chapters', () => {
    const without = Object.keys(BUILTIN_SCENARIOS).filter((id) => !BUILTIN_SCENARIOS[id]!.chapters?.length);
    expect(without).toEqual([]);
  });
  for (const id of Object.keys(BUILTIN_SCENARIOS)) {
    it(`${id}: 3–10 chapters, within the run, each at the moment it names`, () => {
      const chapters = BUILTIN_SCENARIOS[id]!.chapters ?? [];
      expect(chapters.length).toBeGreaterThanOrEqual(3);
      expect(chapters.length).toBeLessThanOrEqual(10);
      const r = run(BUILTIN_SCENARIOS[id]!, 'v4');
      let last = 0;
      for (const [i, c] of chapters.entries()) {
        expect(Object.keys(c).sort(), `${id} chapters[${i}]`).toEqual(['at', 'text', 'title']);
        expect(c.title.length, `${id} chapters[${i}].title`).toBeGreaterThan(0);
        expect(c.title.length, `${id} chapters[${i}].title`).toBeLessThanOrEqual(60);
        expect(c.text.length, `${id} chapters[${i}].text`).toBeGreaterThan(0);
        expect(c.text.length, `${id} chapters[${i}].text`).toBeLessThanOrEqual(400);
        expect(c.at, `${id} chapters[${i}].at`).toBeGreaterThanOrEqual(last);
        expect(c.at, `${id} chapters[${i}].at is past the run's end`).toBeLessThanOrEqual(r.result.endUs);
        last = c.at;
        for (const [title, needle] of NAMED) {
          if (!title.test(c.title)) continue;
          const at = lineUs(r.log, needle);
          expect(at, `${id}: "${c.title}" names "${needle}", which the v4 run does not print`).not.toBeNull();
          // At the line (within dmesg's whole µs), or at most 50 µs before it.
          expect(c.at, `${id}: "${c.title}"`).toBeGreaterThanOrEqual(at! - 50);
          expect(c.at, `${id}: "${c.title}"`).toBeLessThan(at! + 1);
        }
      }
    });
  }
});
