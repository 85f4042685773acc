import { createActivitiesModule } from "./activities";
import { createBulkModule } from "./bulk";
import { createCampaignsModule } from "./campaigns";
import { createCustomObjectsModule } from "./customObjects";
import { createFormsModule } from "./forms";
import { createListsModule } from "./lists";
import { createProgramsModule } from "./programs";
import type { DomainContext, DomainModule } from "./types";
import { createUsageModule } from "./usage";

/**
 * Every domain module except leads (programs and channels, program members, campaigns,
 * activities, custom objects, forms, static lists, bulk import, usage stats), in the order their routes match.
 * Activities come first because the others write system activities into its log; bulk
 * import reuses the program member and custom object validation.
 */
export function createDomainModules(ctx: DomainContext): DomainModule[] {
  const activities = createActivitiesModule(ctx);
  const programs = createProgramsModule(ctx, activities.log);
  const campaigns = createCampaignsModule(ctx, activities.log);
  const customObjects = createCustomObjectsModule(ctx);
  const forms = createFormsModule(ctx, activities.log, (id) => programs.program(id) !== undefined);
  const lists = createListsModule(ctx, activities.log);
  activities.useLists((listId) => lists.members(listId));
  const bulk = createBulkModule(ctx, { programs, customObjects, lists });
  return [activities, programs, campaigns, customObjects, forms, lists, bulk, createUsageModule(ctx)];
}
