// Types of the generated validator (schema/gatehouse.validate.mjs, see src/config/compiled-validator.ts).
import type { ErrorObject } from 'ajv';

/** Ajv's compiled validation function: true when valid, else false with `errors` set. */
export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export declare const validate: CompiledValidator;
export default validate;
