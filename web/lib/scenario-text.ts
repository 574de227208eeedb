/**
 * What the page says about a scenario: its one-line explanation, where it
 * comes from in the seeds, and which built-in it is.
 */
import { BUILTIN_SCENARIOS, type Scenario } from '../../core/index.ts';

/** The id of the built-in this scenario is, unchanged but for its policy; null when it is not one. */
export function builtinIdOf(s: Scenario): string | null {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return null;
  const { policy: _p, ...rest } = s;
  const json = JSON.stringify(rest);
  for (const [id, b] of Object.entries(BUILTIN_SCENARIOS)) {
    const { policy: _q, ...r } = b;
    if (JSON.stringify(r) === json) return id;
  }
  return null;
}

function sentences(d: string): string[] {
  return d.split(/(?<=[.!?])\s+/).filter((x) => x.length > 0);
}
const CITATION = /^(Seed|Kernel|What-if)\b/;

/**
 * The one-line explanation of a scenario: the first sentence of its
 * description that is not a citation (with the next one when it is short).
 */
export function summarize(s: Scenario): string {
  const parts = sentences(s.description ?? '');
  const i = parts.findIndex((x) => !CITATION.test(x));
  if (i < 0) return '';
  let line = parts[i]!;
  const next = parts[i + 1];
  if (line.length < 70 && next && line.length + next.length < 220) line = `${line} ${next}`;
  return line.length > 220 ? line.slice(0, 217) + '…' : line;
}

/** Where a scenario comes from in the seeds ("Seed 003 #19-#24 and the review of #19"), or ''. */
export function citation(s: Scenario): string {
  const first = sentences(s.description ?? '')[0] ?? '';
  return CITATION.test(first) ? first.replace(/\.$/, '') : '';
}
