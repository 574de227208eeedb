export * from './groupDevice.machine.ts';
export { gdevInitial, gdevSend, gdevCan } from './drive.ts';
