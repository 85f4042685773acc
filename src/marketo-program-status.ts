/**
 * marketo-program-status: sets a lead's status in a Marketo program (Sync Program Member
 * Status, batched per program and status). Glue only: what a record sends is
 * src/lib/actions/program-status-handler.ts; the settings, the channel check and the 1025 message
 * are src/lib/actions/program-status.ts; answering records is src/lib/node-kit/action-node.ts.
 */
import type { Node, NodeAPI, NodeDef } from "node-red";
import { startActionNode, type ActionNodeDef } from "./lib/node-kit/action-node";
import { duplicatePolicy } from "./lib/actions/lead-lookup";
import {
  programStatusHandler,
  type ProgramStatusMessage,
  type ProgramStatusReader,
} from "./lib/actions/program-status-handler";
import { metrics } from "./lib/sidebar/metrics";
import { MarketoError, type MarketoClient } from "./lib/marketo";
import { isMarketoConfig, type MarketoConfigNode } from "./lib/node-kit/marketo-config-api";
import {
  checkReport,
  parseSettings,
  programIdFrom,
  readFailureHint,
  readProgramChannel,
  statusesOfMappers,
  toProgramId,
  upstreamStatusMappers,
  ChannelCache,
  NODE_TYPE,
  OPERATION,
  type FlowNode,
} from "./lib/actions/program-status";
import { typedInputReader, type TypedInputReader } from "./lib/node-kit/typed-input";
import { errorText, isRecord } from "./lib/node-kit/guards";
import { startNoShowSweep, type NoShowNode } from "./lib/node-kit/no-show-node";
import type { NoShowSettingsInput } from "./lib/actions/no-show-sweep";
import { BULK_LIVE_RECORDS, KeyedBulk, parseBulkThreshold } from "./lib/actions/bulk-switch";

interface ProgramStatusDef extends ActionNodeDef, NoShowSettingsInput {
  program?: string;
  programType?: string;
  programStatus?: string;
  programStatusType?: string;
  /** 0.1.0's names for programStatus and its type (read by parseSettings when the new ones are absent). */
  status?: unknown;
  statusType?: string;
  email?: string;
  emailType?: string;
  createMissing?: boolean | string;
  /** Several leads with the email: fail, newest, oldest or all. */
  duplicates?: string;
  /** A backlog above this many records goes to Marketo's program member bulk import (0 = never). */
  bulkThreshold?: string | number;
}

function describeError(err: unknown): { code?: string; text: string } {
  if (err instanceof MarketoError)
    return { code: err.code, text: `${err.category}: ${err.message}${readFailureHint(err.code)}` };
  return { text: errorText(err) };
}

/**
 * The toolkit's reader in the handler's shape (the reason of a failed read is its message). A
 * property that could not be prepared is a deploy problem, so no record reaches its read. The
 * read stays one promise: records reach the client's batcher in the same ticks as they always have.
 */
function asReader(r: TypedInputReader | undefined, what: string): ProgramStatusReader {
  if (!r) return { label: what, read: async () => ({ ok: false, message: `the ${what} property is invalid` }) };
  return {
    label: r.label,
    read: (msg) =>
      new Promise((resolve) =>
        r.read(msg, (got) => resolve(got.ok ? { ok: true, value: got.value } : { ok: false, message: got.reason })),
      ),
  };
}

export = function (RED: NodeAPI) {
  function ProgramStatusNode(this: Node, def: ProgramStatusDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const { settings, problems } = parseSettings(def);
    const duplicates = duplicatePolicy(def.duplicates);
    if (duplicates === undefined)
      problems.push(`duplicate leads must be fail, newest, oldest or all, not ${JSON.stringify(def.duplicates)}`);

    const bulkThreshold = parseBulkThreshold(def.bulkThreshold);
    if (bulkThreshold.problem) problems.push(bulkThreshold.problem);
    const bulk =
      bulkThreshold.value > 0
        ? new KeyedBulk({ operation: "bulkImportProgramMembers", onChange: () => action.refreshStatus() })
        : undefined;

    let readProgram: TypedInputReader | undefined;
    let readStatus: TypedInputReader | undefined;
    let readEmail: TypedInputReader | undefined;
    try {
      readProgram = typedInputReader(RED, node, settings.program.value, settings.program.type);
      readStatus = typedInputReader(RED, node, settings.status.value, settings.status.type);
      readEmail = typedInputReader(RED, node, settings.email.value, settings.email.type);
    } catch (err) {
      problems.push(`a property is invalid: ${errorText(err)}`);
    }
    /** The program when every record uses the same one (a number, or an env var): checked at deploy. */
    let fixedProgram: number | undefined;
    if (problems.length === 0 && readProgram?.constant) {
      const id = programIdFrom(readProgram.constant.value, readProgram.label);
      if (id.ok) fixedProgram = id.value;
      else problems.push(id.message);
    }

    let closed = false;
    let configNode: MarketoConfigNode | null = null;
    const channels = new ChannelCache((programId) => readProgramChannel(configNode!.getClient(), programId));
    let noShow: NoShowNode | undefined;

    const handler = programStatusHandler({
      settings,
      readers: {
        program: asReader(readProgram, "program"),
        status: asReader(readStatus, "status"),
        email: asReader(readEmail, "email"),
      },
      duplicates,
      channels,
      sawProgram: (programId, msg) => noShow?.saw(programId, msg),
      duplicateLeads: () => metrics.duplicateLeads({ id: node.id, type: NODE_TYPE, name: def.name || "" }),
      ...(bulk ? { bulk: { collector: bulk, threshold: bulkThreshold.value, backlog: () => action.backlog() } } : {}),
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

    /**
     * At deploy, with a fixed program: read the program and its channel (2 calls, kept for the
     * 1025 message) and warn about the statuses the flow may send that the channel lacks.
     * Never fails the deploy.
     */
    const config = action.config;
    if (fixedProgram !== undefined && problems.length === 0 && config && !config.configError) {
      const programId = fixedProgram;
      setImmediate(() => {
        if (closed) return;
        const statuses =
          settings.status.type === "str"
            ? [settings.status.value]
            : statusesOfMappers(upstreamStatusMappers(flowNodes(), node.id));
        channels
          .get(programId)
          .then((info) => {
            if (closed) return;
            for (const problem of checkReport(info, statuses).problems) node.warn(`${NODE_TYPE}: ${problem}`);
          })
          .catch((err: unknown) => {
            if (!closed) node.warn(`${NODE_TYPE}: could not check program ${programId}: ${describeError(err).text}`);
          });
      });
    }
  }

  /** Every node of the deployed flows, as the runtime holds their settings. */
  function flowNodes(): FlowNode[] {
    const out: FlowNode[] = [];
    RED.nodes.eachNode((n: NodeDef) => out.push(n as unknown as FlowNode));
    return out;
  }

  RED.nodes.registerType(NODE_TYPE, ProgramStatusNode);

  /**
   * The dialog's "Check program": reads the program and its channel through a deployed
   * marketo-config and says which of the statuses the flow may send the channel lacks. The body:
   * `{config, programId, statuses?: string[], mappers?: [{rules, preset}]}` (the status-mapper
   * nodes wired before the node in the editor, unsaved rows included).
   */
  RED.httpAdmin.post(`/${NODE_TYPE}/check`, RED.auth.needsPermission(`${NODE_TYPE}.write`), (req, res) => {
    const body = isRecord(req.body) ? req.body : {};
    const fail = (status: number, message: string): void => {
      res.status(status).json({ ok: false, error: { category: "validation", message } });
    };
    const configId = typeof body.config === "string" ? body.config : "";
    if (!configId) return fail(400, "choose a marketo-config first");
    const config = RED.nodes.getNode(configId);
    if (!isMarketoConfig(config))
      return fail(400, "the chosen marketo-config is not deployed yet: deploy it, then check again");
    if (config.configError) return fail(400, config.configError.message);
    const programId = toProgramId(body.programId);
    if (programId === undefined)
      return fail(400, `the program id ${JSON.stringify(body.programId ?? "")} is not a positive whole number`);
    const given = Array.isArray(body.statuses) ? body.statuses.filter((s): s is string => typeof s === "string") : [];
    const mappers = Array.isArray(body.mappers) ? body.mappers.filter(isRecord) : [];
    const statuses = [...given, ...statusesOfMappers(mappers)];
    let client: MarketoClient;
    try {
      client = config.getClient();
    } catch (err) {
      return fail(400, describeError(err).text);
    }
    readProgramChannel(client, programId)
      .then((info) => res.json(checkReport(info, statuses)))
      .catch((err: unknown) => {
        const d = describeError(err);
        res.json({
          ok: false,
          programId,
          statuses,
          missing: [],
          problems: [`could not read program ${programId}: ${d.text}`],
          error: {
            ...(d.code ? { code: d.code } : {}),
            category: err instanceof MarketoError ? err.category : "marketo",
            message: d.text,
          },
        });
      });
  });
};
