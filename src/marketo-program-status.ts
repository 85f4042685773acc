/**
 * marketo-program-status: sets a lead's status in a Marketo program (Sync Program Member
 * Status, batched per program and status). Glue only: what a record sends is
 * src/lib/actions/program-status-handler.ts; the settings, the channel check and the 1025 message
 * are src/lib/actions/program-status.ts; answering records is src/lib/node-kit/action-node.ts; the
 * settings read at deploy and the deploy-time program check are src/lib/node-kit/program-status-node.ts.
 */
import type { Node, NodeAPI } from "node-red";
import { startActionNode } from "./lib/node-kit/action-node";
import { programStatusHandler, type ProgramStatusMessage } from "./lib/actions/program-status-handler";
import { metrics } from "./lib/sidebar/metrics";
import type { MarketoConfigNode } from "./lib/node-kit/marketo-config-api";
import { readProgramChannel, ChannelCache, NODE_TYPE, OPERATION } from "./lib/actions/program-status";
import { startNoShowSweep, type NoShowNode } from "./lib/node-kit/no-show-node";
import { BULK_LIVE_RECORDS, KeyedBulk } from "./lib/actions/bulk-switch";
import { checkProgramAtDeploy, programStatusSetup, type ProgramStatusDef } from "./lib/node-kit/program-status-node";
import { registerProgramCheckRoute } from "./lib/node-kit/program-status-check-route";

export = function (RED: NodeAPI) {
  function ProgramStatusNode(this: Node, def: ProgramStatusDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const { settings, problems, duplicates, bulkThreshold, readers, fixedProgram } = programStatusSetup(RED, node, def);
    const bulk =
      bulkThreshold > 0
        ? new KeyedBulk({ operation: "bulkImportProgramMembers", onChange: () => action.refreshStatus() })
        : undefined;

    let closed = false;
    let configNode: MarketoConfigNode | null = null;
    const channels = new ChannelCache((programId) => readProgramChannel(configNode!.getClient(), programId));
    let noShow: NoShowNode | undefined;

    const handler = programStatusHandler({
      settings,
      readers,
      duplicates,
      channels,
      sawProgram: (programId, msg) => noShow?.saw(programId, msg),
      duplicateLeads: () => metrics.duplicateLeads({ id: node.id, type: NODE_TYPE, name: def.name || "" }),
      ...(bulk ? { bulk: { collector: bulk, threshold: bulkThreshold, backlog: () => action.backlog() } } : {}),
    });

    const action = startActionNode(RED, node, def, {
      type: NODE_TYPE,
      operation: OPERATION,
      ...(problems.length ? { configProblem: problems.join("; ") } : {}),
      handle: (record, msg, ctx) => handler.handle(record, msg as ProgramStatusMessage, ctx),
      intercept: (msg, send, done) => noShow?.intercept(msg, send, done) ?? false,
      close: () => {
        closed = true;
        noShow?.close();
      },
      // Rows waiting for the bulk window start their job when the node closes, so the base's wait
      // sees them answered rather than timing out.
      ...(bulk ? { closing: () => bulk.close(), liveRecords: BULK_LIVE_RECORDS } : {}),
    });
    configNode = action.config;
    noShow = startNoShowSweep(RED, node, def, {
      type: NODE_TYPE,
      client: () => {
        if (!configNode) throw new Error("no marketo-config is deployed for this node");
        return configNode.getClient();
      },
      channels,
      ...(fixedProgram !== undefined ? { fixedProgram } : {}),
      raiseErrors: def.raiseErrors !== false && def.raiseErrors !== "false",
    });

    const config = action.config;
    if (fixedProgram !== undefined && problems.length === 0 && config && !config.configError)
      checkProgramAtDeploy({ RED, node, settings, channels, programId: fixedProgram, closed: () => closed });
  }

  RED.nodes.registerType(NODE_TYPE, ProgramStatusNode);
  registerProgramCheckRoute(RED);
};
