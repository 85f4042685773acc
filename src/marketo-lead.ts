/**
 * marketo-lead: creates/updates leads (Sync Leads, or bulk import when the backlog is large),
 * requests a trigger campaign for them, or posts them through a Marketo form. Node-RED glue
 * only: the shared action base answers each record, src/lib/actions/lead-handler.ts decides what
 * one record sends, and src/lib/node-kit/lead-form-routes.ts serves the dialog's form picker.
 */
import type { Node, NodeAPI } from "node-red";
import { typedInputReader } from "./lib/node-kit/typed-input";
import { errorText } from "./lib/node-kit/guards";
import { startActionNode, type ActionNodeDef } from "./lib/node-kit/action-node";
import { describeValue, parseLeadSettings, type LeadNodeProps } from "./lib/actions/lead-action";
import { BULK_LIVE_RECORDS } from "./lib/actions/lead-bulk";
import {
  leadHandler,
  leadLabels,
  leadProperties,
  noReader,
  type LeadPropertyProps,
  type LeadReaders,
  type Reader,
} from "./lib/actions/lead-handler";
import { metrics } from "./lib/sidebar/metrics";
import { registerLeadFormRoutes } from "./lib/node-kit/lead-form-routes";

type MarketoLeadDef = ActionNodeDef & LeadNodeProps & LeadPropertyProps;

export = function (RED: NodeAPI) {
  /**
   * A TypedInput property, read per message. An empty msg/flow/global path reads nothing; a
   * missing step of an event path reads as missing (the node's value then applies), never as an
   * error; any other failure fails the record with its reason.
   */
  function makeReader(node: Node, value: string | undefined, type: string | undefined): Reader {
    const t = type || "msg";
    const v = value ?? "";
    if (v.trim() === "" && t !== "str") return noReader;
    const r = typedInputReader(RED, node, v, t);
    return async (msg) => {
      const got = await r.readAsync(msg);
      if (got.ok) return got.value;
      if (t === "event") return undefined;
      throw new Error(got.reason);
    };
  }

  function MarketoLeadNode(this: Node, def: MarketoLeadDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const { settings, problems } = parseLeadSettings(def);
    const readers: LeadReaders = { campaign: noReader, tokens: noReader, visitor: noReader, cookie: noReader };
    for (const p of leadProperties(settings, def)) {
      try {
        readers[p.key] = makeReader(node, p.value, p.type);
      } catch (err) {
        problems.push(`${p.what} ${describeValue(p.value)} cannot be read: ${errorText(err)}`);
      }
    }
    const handler = leadHandler({
      settings,
      readers,
      labels: leadLabels(def),
      backlog: () => action.backlog(),
      duplicateLeads: () => metrics.duplicateLeads({ id: node.id, type: "marketo-lead", name: def.name || "" }),
      refreshStatus: () => action.refreshStatus(),
    });
    const bulk = handler.bulk;
    const action = startActionNode(RED, node, def, {
      type: "marketo-lead",
      operation: handler.operation,
      ...(problems.length ? { configProblem: problems.join("; ") } : {}),
      handle: (record, msg, ctx) => handler.handle(record, msg, ctx),
      // Rows waiting for the bulk window start their job as close begins, so the base's wait
      // sees them answered (imported, or failed by the closing client) rather than timing out.
      ...(bulk ? { closing: () => bulk.close(), liveRecords: BULK_LIVE_RECORDS } : {}),
    });
  }

  RED.nodes.registerType("marketo-lead", MarketoLeadNode);

  registerLeadFormRoutes(RED);
};
