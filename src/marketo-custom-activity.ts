/**
 * marketo-custom-activity: one session engagement per record into Marketo, as a custom activity
 * (Add Custom Activities) or a custom object record (Sync Custom Objects) linked to the lead.
 * Glue only: what a record sends is src/lib/actions/engagement-handler.ts (fields, coercion and
 * records in engagement*.ts beside it); the Node-RED side every action node shares is
 * src/lib/node-kit/action-node.ts.
 */
import type { Node, NodeAPI } from "node-red";
import { typedInputReader } from "./lib/node-kit/typed-input";
import { errorText } from "./lib/node-kit/guards";
import { startActionNode, type ActionNodeDef } from "./lib/node-kit/action-node";
import {
  engagementHandler,
  engagementProperties,
  engagementSettings,
  type EngagementProps,
  type EngagementReaders,
} from "./lib/actions/engagement-handler";
import { metrics } from "./lib/sidebar/metrics";
import { BULK_LIVE_RECORDS, KeyedBulk, parseBulkThreshold } from "./lib/actions/bulk-switch";

const TYPE = "marketo-custom-activity";

export = function (RED: NodeAPI) {
  function MarketoCustomActivityNode(
    this: Node,
    def: ActionNodeDef & EngagementProps & { bulkThreshold?: string | number },
  ) {
    RED.nodes.createNode(this, def);
    const node = this;
    const { settings, problems } = engagementSettings(def);
    const readers: Partial<EngagementReaders> = {};
    try {
      for (const p of engagementProperties(def, settings.dateType)) {
        const r = typedInputReader(RED, node, p.value, p.type);
        readers[p.key] = (msg, record, index) => r.readAsync(msg, record, index);
      }
    } catch (err) {
      problems.push(`a property cannot be read: ${errorText(err)}`);
    }
    // Marketo has bulk import for custom objects, not for custom activities.
    const threshold = parseBulkThreshold(def.bulkThreshold);
    if (settings.target === "customObject" && threshold.problem) problems.push(threshold.problem);
    const collector =
      settings.target === "customObject" && threshold.value > 0
        ? new KeyedBulk({ operation: "bulkImportCustomObjects", onChange: () => action.refreshStatus() })
        : undefined;
    const handler = engagementHandler({
      settings,
      readers: readers as EngagementReaders,
      warn: (text) => node.warn(`${TYPE}: ${text}`),
      duplicateLeads: () => metrics.duplicateLeads({ id: node.id, type: TYPE, name: def.name || "" }),
      ...(collector ? { bulk: { collector, threshold: threshold.value, backlog: () => action.backlog() } } : {}),
    });
    const action = startActionNode(RED, node, def, {
      type: TYPE,
      operation: settings.operation,
      ...(problems.length ? { configProblem: problems.join("; ") } : {}),
      handle: (record, msg, ctx) => handler.handle(record, msg, ctx),
      close: () => handler.close(),
      // Rows waiting for the bulk window start their job when the node closes, so the base's wait
      // sees them answered rather than timing out.
      ...(collector ? { closing: () => collector.close(), liveRecords: BULK_LIVE_RECORDS } : {}),
    });

    // Read the metadata at deploy, so the missing-fields warning comes now rather than with the
    // first record; records arriving meanwhile wait for this same call.
    if (problems.length === 0 && action.config && !action.config.configError) {
      try {
        handler.planFor(action.config.getClient()).catch((err: unknown) => {
          if (!handler.closed) node.warn(`${TYPE}: ${errorText(err)}`);
        });
      } catch {
        /* the records report an unusable config */
      }
    }
  }

  RED.nodes.registerType(TYPE, MarketoCustomActivityNode);
};
