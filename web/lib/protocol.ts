/** Messages between the page and the simulation worker. */
import type {
  CallRecord,
  LogLine,
  PolicySpec,
  ResolvedScenario,
  Scenario,
  SimResult,
  TimelineData,
  TraceRecord,
  ValidationError,
  View,
  Violation,
} from '../../core/index.ts';

export type ToWorker =
  | { type: 'load'; id: number; scenario: unknown; policy: PolicySpec | null }
  | { type: 'seek'; id: number; position: number }
  | { type: 'compare'; id: number }
  /** Decode and validate a link's `#s=` payload (off the page's thread: it may inflate 2 MiB of JSON). */
  | { type: 'decode'; id: number; encoded: string };

/** A link's scenario as written, or why the link holds none. */
export type LinkDecoded = { ok: true; raw: Scenario } | { ok: false; error: string };

/** The loaded scenario run to its end under one policy (trace off). */
export interface CompareRow {
  policy: PolicySpec;
  label: string;
  current: boolean;
  stats: SimResult['stats'];
  devices: Array<{ bdf: string; blocked: string; atsBroken: boolean; present: boolean }>;
  groups: Array<{ id: number; recoveryCnt: number }>;
  logLines: number;
  failedCalls: number;
  violations: number;
  endUs: number;
}

export interface Loaded {
  type: 'loaded';
  id: number;
  ok: true;
  resolved: ResolvedScenario;
  data: TimelineData;
  trace: TraceRecord[];
  log: LogLine[];
  calls: CallRecord[];
  violations: Violation[];
  result: SimResult;
  position: number;
  view: View;
  loadMs: number;
}

export type FromWorker =
  | Loaded
  | { type: 'loaded'; id: number; ok: false; errors: ValidationError[] }
  | { type: 'view'; id: number; position: number; view: View }
  | { type: 'compared'; id: number; rows: CompareRow[] }
  | { type: 'decoded'; id: number; result: LinkDecoded }
  | { type: 'failed'; id: number; message: string };
