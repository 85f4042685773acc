/**
 * The prototype keys are never a Marketo field and must not leave for Marketo: `JSON.parse` makes
 * `__proto__` an own key of a webhook's record, and sent on it makes Marketo skip the whole
 * record (1006 "Field '__proto__' not found") for a key no one meant as a field.
 */
import { UNSAFE_KEYS } from "../node-kit/guards";

export { isUnsafeKey } from "../node-kit/guards";

/** JSON.stringify replacer that leaves those keys out at any depth. */
export function dropUnsafeKeys(key: string, value: unknown): unknown {
  return UNSAFE_KEYS.has(key) ? undefined : value;
}
