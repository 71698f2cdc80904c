import type { RotationStep } from './records.js';

// Only a type import: `pki --help` lists the rotation commands without loading the store (@evpki/store/rotation-steps).

/** The steps of a rotation, in order. */
export const ROTATION_STEPS: readonly RotationStep[] = ['prepare', 'publish', 'activate', 'retire'];
