/**
 * The target's metadata for marketo-custom-activity: described once per client (per deploy) and
 * shared by every record waiting for it, with the fields the target lacks said once.
 */
import { errorText, isRecord } from "../node-kit/guards";
import { MarketoError, type MarketoClient } from "../marketo";
import {
  activityShape,
  customObjectShape,
  missingFieldsText,
  planFields,
  type Plan,
  type ShapeResult,
} from "./engagement";
import type { EngagementSettings } from "./engagement-handler";

type PlanSettings = Pick<EngagementSettings, "target" | "apiName" | "linkField" | "fields" | "operation">;

export class EngagementPlans {
  private warned = false;
  private meta: { client: MarketoClient; plan: Promise<Plan> } | undefined;
  /** No warning after close. */
  closed = false;

  constructor(
    private readonly settings: PlanSettings,
    private readonly warn: (text: string) => void,
  ) {}

  /** The plan through this client: described once, shared by every record waiting for it. */
  planFor(client: MarketoClient): Promise<Plan> {
    const meta = this.meta;
    if (meta && meta.client === client) return meta.plan;
    const { fields, operation } = this.settings;
    const plan: Promise<Plan> = describeTarget(client, this.settings).then(
      (shape) => {
        if (!shape.ok)
          throw new MarketoError({
            code: "INVALID_INPUT",
            message: shape.message,
            category: "validation",
            action: "permanent",
            retryable: false,
            operation,
          });
        const p = planFields(fields, shape.shape);
        const missing = missingFieldsText(p);
        if (missing && !this.warned && !this.closed) {
          this.warned = true;
          this.warn(missing);
        }
        return p;
      },
      (err: unknown) => {
        throw metadataError(err, this.settings);
      },
    );
    const entry = { client, plan };
    this.meta = entry;
    // A failed describe is not kept: the next record asks again.
    plan.catch(() => {
      if (this.meta === entry) this.meta = undefined;
    });
    return plan;
  }
}

async function describeTarget(
  client: MarketoClient,
  { target, apiName, linkField }: PlanSettings,
): Promise<ShapeResult> {
  if (target === "customObject")
    return customObjectShape(await client.describeCustomObject(apiName), apiName, linkField);
  const described = await client.describeCustomActivityType(apiName);
  if (isRecord(described) && described.id === undefined) {
    // Describe answered without the id: the type list has it (one more call, once).
    const listed = (await client.listCustomActivityTypes()).find((t) => t.apiName === apiName);
    return activityShape(listed ? { ...described, id: listed.id } : described, apiName);
  }
  return activityShape(described, apiName);
}

/** A describe that failed, named as the target it was for. */
function metadataError(err: unknown, { target, apiName, operation }: PlanSettings): MarketoError {
  const what = target === "customObject" ? `the custom object ${apiName}` : `the custom activity type ${apiName}`;
  const e =
    err instanceof MarketoError
      ? err
      : new MarketoError({
          code: "INTERNAL",
          message: errorText(err),
          category: "marketo",
          action: "permanent",
          retryable: false,
        });
  return new MarketoError({ ...e.toJSON(), message: `cannot read ${what} from Marketo: ${e.message}`, operation });
}
