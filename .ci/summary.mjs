// Totals across the runners (Vitest and Playwright JSON reports), plus the
// type-check and lint passes, as one line "N passed, N failed".
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
const extraFailed = Number(process.argv[2] ?? 0);

const vitest = 'reports/vitest.json';
if (existsSync(vitest)) {
  const r = JSON.parse(readFileSync(vitest, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
} else {
  failed += 1;
  console.error('no Vitest report (reports/vitest.json)');
}

const e2e = 'reports/e2e.json';
if (existsSync(e2e)) {
  const r = JSON.parse(readFileSync(e2e, 'utf8'));
  const s = r.stats ?? {};
  passed += (s.expected ?? 0) + (s.flaky ?? 0);
  failed += s.unexpected ?? 0;
  if ((r.errors ?? []).length > 0) failed += r.errors.length;
} else {
  failed += 1;
  console.error('no Playwright report (reports/e2e.json)');
}

// The type checks and the lint pass count as one test each.
passed += 2 - extraFailed;
failed += extraFailed;
console.log(`${passed} passed, ${failed} failed`);
