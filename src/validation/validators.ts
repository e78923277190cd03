/**
 * The validators ajv compiled ahead of time (validators.generated.ts, see generate.ts), typed: ajv's
 * calling convention, where a failed call leaves its errors on the function.
 */
import type { ErrorObject } from 'ajv';
import * as generated from './validators.generated.js';

export type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

export const inventory: Validator = generated.inventory;
export const vars: Validator = generated.vars;
export const playbook: Validator = generated.playbook;
