/** Write the long storms of bench/long-storm.ts to bench/scenarios/ (`node --import tsx bench/make-scenarios.ts`). */
import { writeFileSync } from 'node:fs';
import { LONG_STORMS, longStorm } from './long-storm.ts';

for (const s of LONG_STORMS) {
  const text = JSON.stringify(longStorm(s.devices, s.unmaps), null, 1) + '\n';
  writeFileSync(new URL(`scenarios/${s.file}`, import.meta.url), text);
  console.log(`bench/scenarios/${s.file}: ${text.length} bytes`);
}
