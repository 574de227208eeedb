/**
 * How the page's worker records a run: in slices of SLICE_MS of
 * wall-clock time (the worker answers seeks between two), with snapshots
 * spaced by recording time, so that they follow what events cost on this
 * machine, not a count of events. A seek restores the snapshot before its
 * position and replays the events recorded since, so the spacing bounds
 * the worst seek (plus a restore).
 *
 * Replaying costs more per event than recording did: the viewer's code is
 * cold at the first seeks (about 13 µs an event against 3–5 µs, 8 devices,
 * Node), so one snapshot per 30 ms slice — about 5000 events of a small
 * world — meant seeks of up to about 60 ms there. The spacing therefore
 * follows what a snapshot costs: SNAPSHOT_SPACING times as long as the
 * cheapest of the last few snapshots took, between MIN_SPACING_MS and
 * SLICE_MS, so snapshots take at most about 1/SNAPSHOT_SPACING of
 * recording. A small world (8 devices: a snapshot in about 0.5 ms) gets
 * one every 5 ms or so, under a thousand events, and its seeks replay little;
 * a large one (256 devices: about 4 ms) one per slice, as before. The
 * cheapest, not the average: a snapshot slowed by a collection or by a
 * busy machine does not stretch the spacing.
 *
 * No DOM here: the benchmark (bench/timeline.bench.ts) records the same way.
 */
import type { RecordingState, Timeline } from '../../core/index.ts';

/** Wall-clock time (ms) of recording in one slice, and the most between two snapshots. */
export const SLICE_MS = 30;

/** Fewest milliseconds of recording between two snapshots. */
export const MIN_SPACING_MS = 2;

/** Recording between two snapshots lasts this many times as long as a snapshot takes. */
export const SNAPSHOT_SPACING = 10;

/** Snapshots whose times the spacing is worked out from (the cheapest of them). */
const RECENT = 8;

/** Events recorded between two looks at the clock. */
const STRIDE = 256;

/** The options the page's worker (and its benchmark) record a run with: snapshots where recordSlice() takes them. */
export const RECORDING_OPTIONS = { progressive: true, snapshotEvery: Infinity } as const;

/** A recording's pace: how long its last snapshots took (ms), and the recording time since the last one. */
interface Pace {
  snapMs: number[];
  spanMs: number;
}

const paces = new WeakMap<Timeline, Pace>();

/** Milliseconds of recording between two snapshots when the cheapest recent one took `snapMs` (null: none timed yet). */
export function snapshotSpacing(snapMs: number | null): number {
  if (snapMs === null) return MIN_SPACING_MS;
  return Math.min(SLICE_MS, Math.max(MIN_SPACING_MS, SNAPSHOT_SPACING * snapMs));
}

/**
 * Record for about `ms` milliseconds of wall-clock time (`now` reads the
 * clock), taking a snapshot whenever recording since the last one has
 * lasted the spacing its cost calls for. Returns the recording state.
 */
export function recordSlice(tl: Timeline, now: () => number, ms = SLICE_MS): RecordingState {
  let pace = paces.get(tl);
  if (!pace) paces.set(tl, (pace = { snapMs: [], spanMs: 0 }));
  const t0 = now();
  let last = t0;
  let state = tl.recording;
  while (state === 'running') {
    state = tl.record(STRIDE);
    let t = now();
    pace.spanMs += t - last;
    last = t;
    if (state === 'running' && pace.spanMs >= snapshotSpacing(pace.snapMs.length ? Math.min(...pace.snapMs) : null)) {
      if (tl.checkpoint()) {
        t = now();
        pace.snapMs.push(t - last);
        if (pace.snapMs.length > RECENT) pace.snapMs.shift();
        last = t;
      }
      pace.spanMs = 0;
    }
    if (t - t0 >= ms) break;
  }
  return state;
}

/** Record the whole run slice by slice (the benchmark's way of doing what the worker does between messages). */
export function recordAll(tl: Timeline, now: () => number, ms = SLICE_MS): RecordingState {
  let state = tl.recording;
  while (state === 'running') state = recordSlice(tl, now, ms);
  return state;
}
