/**
 * Headless runner: `npm run sim -- FILE.json [--policy NAME] [--set FLAG=true|false] [--json]`
 *
 * Prints the kernel log (one dmesg line each), or with --json one
 * `smmu-result/1` JSON result. Exit status: 0 ran, 2 invalid scenario or
 * arguments (stderr names the JSON path and the reason), 3 invariant
 * violations found. A built-in scenario can be named with `builtin:<id>`.
 */
import { readFileSync } from 'node:fs';
import { Simulation, type SimOptions } from '../engine.ts';
import type { ResolvedScenario } from '../scenario/types.ts';
import { FLAG_NAMES, isPresetName, POLICY_PRESETS, type PolicyFlags } from '../policy/index.ts';
import { formatErrors, parseScenarioText } from '../scenario/validate.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from '../scenario/builtins/index.ts';

const USAGE = `usage: npm run sim -- FILE.json [--policy ${POLICY_PRESETS.join('|')}] [--set FLAG=true|false]... [--json]
       npm run sim -- builtin:<id> ...        (built-in scenarios: ${Object.keys(BUILTIN_SCENARIOS).join(', ')})
flags: ${FLAG_NAMES.join(', ')}`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  readFile: (p: string) => string;
}

/** Builds the simulation; tests substitute one that reports violations to exercise exit status 3. */
export type MakeSimulation = (sc: ResolvedScenario, opts: SimOptions) => Pick<Simulation, 'run' | 'result'>;

export function main(argv: string[], io: CliIo, make: MakeSimulation = (sc, opts) => new Simulation(sc, opts)): number {
  let file: string | null = null;
  let json = false;
  let policy: string | null = null;
  const flags: Partial<PolicyFlags> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    } else if (a === '--policy' || a.startsWith('--policy=')) {
      policy = a.includes('=') ? a.slice(a.indexOf('=') + 1) : (argv[++i] ?? '');
      if (!isPresetName(policy)) {
        io.err(`--policy: unknown policy "${policy}" (expected one of ${POLICY_PRESETS.join(', ')})`);
        return 2;
      }
    } else if (a === '--set' || a.startsWith('--set=')) {
      const kv = a.includes('=') && a.startsWith('--set=') ? a.slice(6) : (argv[++i] ?? '');
      const m = /^([A-Za-z]+)=(true|false|on|off|1|0)$/.exec(kv);
      if (!m || !(FLAG_NAMES as readonly string[]).includes(m[1]!)) {
        io.err(`--set: expected FLAG=true|false with FLAG one of ${FLAG_NAMES.join(', ')}; got "${kv}"`);
        return 2;
      }
      flags[m[1] as keyof PolicyFlags] = ['true', 'on', '1'].includes(m[2]!);
    } else if (a.startsWith('-')) {
      io.err(`unknown option ${a}\n${USAGE}`);
      return 2;
    } else if (file === null) file = a;
    else {
      io.err(`unexpected argument ${a}\n${USAGE}`);
      return 2;
    }
  }
  if (file === null) {
    io.err(USAGE);
    return 2;
  }

  let text: string;
  if (file.startsWith('builtin:')) {
    const b = builtinScenario(file.slice(8));
    if (!b) {
      io.err(`${file}: no such built-in scenario (have: ${Object.keys(BUILTIN_SCENARIOS).join(', ')})`);
      return 2;
    }
    text = JSON.stringify(b);
  } else {
    try {
      text = io.readFile(file);
    } catch (e) {
      io.err(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return 2;
    }
  }
  const v = parseScenarioText(text);
  if (!v.ok) {
    io.err(`${file}: invalid scenario\n${formatErrors(v.errors)}`);
    return 2;
  }
  const sim = make(v.scenario, { policy: policy && isPresetName(policy) ? policy : undefined, flags, trace: false });
  sim.run();
  const r = sim.result();
  if (json) io.out(JSON.stringify(r, null, 2));
  else {
    for (const line of r.log) io.out(line);
    for (const n of r.notes) io.err(`note: ${n}`);
  }
  if (r.violations.length > 0) {
    for (const v2 of r.violations) io.err(`violation at ${v2.atUs} µs [${v2.invariant}]: ${v2.message}`);
    return 3;
  }
  return 0;
}

const isEntry = typeof process !== 'undefined' && process.argv[1] !== undefined && /sim\.ts$/.test(process.argv[1]);
if (isEntry) {
  // A reader that stops early (`| head`) closes the pipe: the rest of the
  // output has nowhere to go, which is not an error of the run.
  const quietOnClosedPipe = (e: NodeJS.ErrnoException): void => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  };
  process.stdout.on('error', quietOnClosedPipe);
  process.stderr.on('error', quietOnClosedPipe);
  const lines: string[] = [];
  const code = main(process.argv.slice(2), {
    out: (s) => lines.push(s),
    err: (s) => process.stderr.write(s + '\n'),
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  if (lines.length) process.stdout.write(lines.join('\n') + '\n');
  process.exitCode = code;
}
