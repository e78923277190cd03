/** Types of the validators that src/validation/generate.ts writes next to itself in dist at build time. */
import type { ErrorObject } from 'ajv';

/** ajv's calling convention: after a failed call, the errors are on the function. */
export type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

export declare const inventory: Validator;
export declare const vars: Validator;
export declare const playbook: Validator;
