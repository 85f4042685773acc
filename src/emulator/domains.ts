import type { DomainContext, DomainModule } from "./types";

/**
 * Every domain module except leads (programs and channels, program members, campaigns,
 * activities, custom objects, forms, bulk import, usage stats), in the order their routes match.
 */
export function createDomainModules(_ctx: DomainContext): DomainModule[] {
  return [];
}
