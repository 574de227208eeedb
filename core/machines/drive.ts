/**
 * Pure driving of the group_device machine over its plain-data state, so the
 * state lives inside the (snapshot-able) simulation state and every step is
 * a deterministic function of the previous one.
 */
import { initialTransition, transition } from 'xstate';
import { groupDeviceMachine, type GdevEvent, type GdevMachineState, type Blocked } from './groupDevice.machine.ts';

const initialCache = new Map<boolean, GdevMachineState>();

export function gdevInitial(nestedResetFix: boolean): GdevMachineState {
  let st = initialCache.get(nestedResetFix);
  if (!st) {
    const [s] = initialTransition(groupDeviceMachine, { nestedResetFix });
    st = { value: s.value as Blocked, context: { ...s.context } };
    initialCache.set(nestedResetFix, st);
  }
  return { value: st.value, context: { ...st.context } };
}

function resolve(st: GdevMachineState) {
  return groupDeviceMachine.resolveState({ value: st.value, context: { ...st.context } });
}

export function gdevCan(st: GdevMachineState, ev: GdevEvent): boolean {
  return resolve(st).can(ev);
}

/** Apply `ev`; returns the next state, or null when the machine rejects it. */
export function gdevSend(st: GdevMachineState, ev: GdevEvent): GdevMachineState | null {
  const snap = resolve(st);
  if (!snap.can(ev)) return null;
  const [next] = transition(groupDeviceMachine, snap, ev);
  return { value: next.value as Blocked, context: { ...next.context } };
}
