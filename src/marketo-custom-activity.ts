/**
 * marketo-custom-activity: one session engagement per record into Marketo, as a custom activity
 * (Add Custom Activities) or a custom object record (Sync Custom Objects) linked to the lead.
 * Glue only: what a record sends is src/lib/actions/engagement-handler.ts (fields, coercion and
 * records in engagement*.ts beside it); the Node-RED side every action node shares is
 * src/lib/node-kit/action-node.ts.
 */
import type { Node, NodeAPI } from "node-red";
import { eventRoot } from "./lib/flow/event";
import { readPath } from "./lib/flow/paths";
import { startActionNode, type ActionNodeDef } from "./lib/node-kit/action-node";
import {
  engagementHandler,
  engagementProperties,
  engagementSettings,
  type EngagementProps,
  type EngagementReader,
  type EngagementReaders,
} from "./lib/actions/engagement-handler";
import { metrics } from "./lib/sidebar/metrics";

type Reader = EngagementReader;
const TYPE = "marketo-custom-activity";

/** The message a record is read from: for an array payload, msg.payload is that record. */
function viewOf(msg: { payload?: unknown }, record: unknown): Record<string, unknown> {
  return msg.payload === record ? (msg as unknown as Record<string, unknown>) : { ...msg, payload: record };
}

export = function (RED: NodeAPI) {
  /**
   * A TypedInput property, prepared once at deploy. "event" is the platform event wherever it
   * is now (as status-mapper reads it): msg.source when field-mapper has moved it there (the
   * same element of an msg.source array), else the record (msg.payload or its array element).
   */
  function makeReader(node: Node, value: string, type: string): Reader {
    if (type === "jsonata") {
      const expr = RED.util.prepareJSONataExpression(value, node);
      return (msg, record) =>
        new Promise((resolve) =>
          RED.util.evaluateJSONataExpression(expr, viewOf(msg, record), (err, result) =>
            resolve(
              err
                ? { ok: false, reason: `the expression ${value} failed: ${err.message.slice(0, 200)}` }
                : { ok: true, value: result, where: `the expression ${value}` },
            ),
          ),
        );
    }
    const parts = value === "" ? [] : RED.util.normalisePropertyExpression(value);
    if (type === "event") {
      return async (msg, record, index) => {
        const { root, label } = eventRoot(msg as { payload?: unknown; source?: unknown }, record, index);
        const where = value ? `${label}.${value}` : label;
        const r = readPath(root, parts, label);
        return r.ok ? { ok: true, value: r.value, where } : { ok: false, reason: r.reason };
      };
    }
    return async (msg, record) => {
      const r = readPath(viewOf(msg, record), parts, "msg");
      return r.ok ? { ok: true, value: r.value, where: `msg.${value}` } : { ok: false, reason: r.reason };
    };
  }

  function MarketoCustomActivityNode(this: Node, def: ActionNodeDef & EngagementProps) {
    RED.nodes.createNode(this, def);
    const node = this;
    const { settings, problems } = engagementSettings(def);
    const readers: Partial<EngagementReaders> = {};
    try {
      for (const p of engagementProperties(def, settings.dateType)) readers[p.key] = makeReader(node, p.value, p.type);
    } catch (err) {
      problems.push(`a property cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    }
    const handler = engagementHandler({
      settings,
      readers: readers as EngagementReaders,
      warn: (text) => node.warn(`${TYPE}: ${text}`),
      duplicateLeads: () => metrics.duplicateLeads({ id: node.id, type: TYPE, name: def.name || "" }),
    });
    const action = startActionNode(RED, node, def, {
      type: TYPE,
      operation: settings.operation,
      ...(problems.length ? { configProblem: problems.join("; ") } : {}),
      handle: (record, msg, ctx) => handler.handle(record, msg, ctx),
      close: () => handler.close(),
    });

    // Read the metadata at deploy, so the missing-fields warning comes now rather than with the
    // first record; records arriving meanwhile wait for this same call.
    if (problems.length === 0 && action.config && !action.config.configError) {
      try {
        handler.planFor(action.config.getClient()).catch((err: unknown) => {
          if (!handler.closed) node.warn(`${TYPE}: ${err instanceof Error ? err.message : String(err)}`);
        });
      } catch {
        /* the records report an unusable config */
      }
    }
  }

  RED.nodes.registerType(TYPE, MarketoCustomActivityNode);
};
