/**
 * marketo-program-status: sets a lead's status in a Marketo program (Sync Program Member
 * Status, batched per program and status). Glue only: the settings, the channel check and the
 * 1025 message are src/lib/actions/program-status.ts; answering records is src/lib/node-kit/action-node.ts.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { invalidRecord } from "./lib/actions/action-outcome";
import { startActionNode, type ActionNodeDef, type Outcome } from "./lib/node-kit/action-node";
import { duplicatePolicy, forEachLead, resolveLeadId, toLeadId } from "./lib/actions/lead-lookup";
import { metrics } from "./lib/sidebar/metrics";
import { MarketoError, type MarketoClient } from "./lib/marketo";
import { isMarketoConfig, type MarketoConfigNode } from "./lib/node-kit/marketo-config-api";
import { eventRoot } from "./lib/flow/event";
import {
  checkReport,
  parseSettings,
  programIdFrom,
  readFailureHint,
  readProgramChannel,
  statusesOfMappers,
  statusNameFrom,
  toProgramId,
  unknownStatusMessage,
  upstreamStatusMappers,
  ChannelCache,
  NODE_TYPE,
  OPERATION,
  type FlowNode,
  type ProgramChannel,
  type Read,
} from "./lib/actions/program-status";
import { readPath } from "./lib/flow/paths";
import { errorText, isRecord } from "./lib/node-kit/guards";
import { startNoShowSweep, type NoShowNode } from "./lib/node-kit/no-show-node";
import type { NoShowSettingsInput } from "./lib/actions/no-show-sweep";
import { BULK_LIVE_RECORDS, KeyedBulk, bulkAnswer, overThreshold, parseBulkThreshold } from "./lib/actions/bulk-switch";

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

type Message = NodeMessageInFlow & { marketo?: unknown; source?: unknown };
type Reader = (msg: Message) => Promise<Read<unknown>>;

function describeError(err: unknown): { code?: string; text: string } {
  if (err instanceof MarketoError)
    return { code: err.code, text: `${err.category}: ${err.message}${readFailureHint(err.code)}` };
  return { text: errorText(err) };
}

export = function (RED: NodeAPI) {
  /**
   * A TypedInput property as a reader. `msg` and `event` paths are split once at deploy and read
   * through own properties only; `flow`/`global` are read per message; `num`, `str` and `env`
   * are constants (env is resolved at deploy).
   */
  function makeReader(node: Node, type: string, value: string): { read: Reader; label: string; constant?: unknown } {
    if (type === "msg") {
      const parts = RED.util.normalisePropertyExpression(value);
      const label = `msg.${value}`;
      return {
        label,
        read: async (msg) => {
          const r = readPath(msg, parts);
          return r.ok ? r : { ok: false, message: r.reason };
        },
      };
    }
    if (type === "event") {
      // The platform event wherever it is now: msg.source once field-mapper has run, else msg.payload.
      const parts = RED.util.normalisePropertyExpression(value);
      return {
        label: `event.${value}`,
        read: async (msg) => {
          const { root, label } = eventRoot(msg);
          const r = readPath(root, parts, label);
          return r.ok ? r : { ok: false, message: r.reason };
        },
      };
    }
    if (type === "flow" || type === "global") {
      return {
        label: `${type}.${value}`,
        read: (msg) =>
          new Promise((resolve) => {
            RED.util.evaluateNodeProperty(value, type, node, msg, (err: Error | null, v: unknown) =>
              resolve(
                err
                  ? { ok: false, message: `${type}.${value} cannot be read: ${err.message}` }
                  : { ok: true, value: v },
              ),
            );
          }),
      };
    }
    const constant = type === "env" ? RED.util.evaluateNodeProperty(value, "env", node, {} as never) : value;
    const label = type === "env" ? `env ${value}` : `the node's setting`;
    return { label, constant, read: async () => ({ ok: true, value: constant }) };
  }

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

    let readProgram: ReturnType<typeof makeReader> | undefined;
    let readStatus: ReturnType<typeof makeReader> | undefined;
    let readEmail: ReturnType<typeof makeReader> | undefined;
    try {
      readProgram = makeReader(node, settings.program.type, settings.program.value);
      readStatus = makeReader(node, settings.status.type, settings.status.value);
      readEmail = makeReader(node, settings.email.type, settings.email.value);
    } catch (err) {
      problems.push(`a property is invalid: ${(err as Error).message}`);
    }
    /** The program when every record uses the same one (a number, or an env var): checked at deploy. */
    let fixedProgram: number | undefined;
    if (problems.length === 0 && readProgram && "constant" in readProgram) {
      const id = programIdFrom(readProgram.constant, readProgram.label);
      if (id.ok) fixedProgram = id.value;
      else problems.push(id.message);
    }

    let closed = false;
    let configNode: MarketoConfigNode | null = null;
    const channels = new ChannelCache((programId) => readProgramChannel(configNode!.getClient(), programId));
    let noShow: NoShowNode | undefined;

    const handle = async (
      record: unknown,
      inMsg: NodeMessageInFlow,
      client: MarketoClient,
      config: MarketoConfigNode,
    ): Promise<Outcome> => {
      // With an array payload each record is read as if it were the message's payload.
      const many = Array.isArray(inMsg.payload);
      const msg = (many ? { ...inMsg, payload: record } : inMsg) as Message;
      const marketo: Record<string, unknown> = {};

      const p = await readProgram!.read(msg);
      const program = p.ok ? programIdFrom(p.value, readProgram!.label) : p;
      if (!program.ok) return { result: invalidRecord(program.message, OPERATION) };
      marketo.programId = program.value;
      noShow?.saw(program.value, msg);

      const s = await readStatus!.read(msg);
      const status = s.ok ? statusNameFrom(s.value, readStatus!.label) : s;
      if (!status.ok) return { result: invalidRecord(status.message, OPERATION), marketo };
      const prev = isRecord(msg.marketo) ? msg.marketo.programStatus : undefined;
      marketo.programStatus = isRecord(prev) && prev.name === status.value ? prev : { name: status.value };

      // One msg.marketo.leadId names one lead: an array of records brings its own (leadId) or emails.
      const givenLead = many
        ? isRecord(record)
          ? record.leadId
          : undefined
        : isRecord(msg.marketo)
          ? msg.marketo.leadId
          : undefined;
      let email: unknown;
      if (toLeadId(givenLead) === undefined) {
        const e = await readEmail!.read(msg);
        if (!e.ok && (givenLead === undefined || givenLead === null || givenLead === "")) {
          return {
            result: invalidRecord(
              `no lead: msg.marketo.leadId is not set and the email cannot be read: ${e.message}`,
              OPERATION,
            ),
            marketo,
          };
        }
        email = e.ok ? e.value : undefined;
      }
      const lead = await resolveLeadId(client, config.leadIds, {
        leadId: givenLead,
        email,
        createMissing: settings.createMissing,
        operation: OPERATION,
        ...(duplicates ? { duplicates } : {}),
      });
      if (lead.duplicates) {
        marketo.duplicates = lead.duplicates;
        metrics.duplicateLeads({ id: node.id, type: NODE_TYPE, name: def.name || "" });
      }
      if (!lead.ok) return { result: lead.result, marketo };
      marketo.leadId = lead.leadId;
      if (lead.leadIds.length > 1) marketo.leadIds = lead.leadIds;

      // The force flag (status-mapper's "force" backward policy, or msg.marketo.force): Marketo never
      // moves a member down, so the member is taken out of the program and the status set anew.
      const mk = isRecord(msg.marketo) ? msg.marketo : undefined;
      const force =
        mk !== undefined && (mk.force === true || (isRecord(mk.programStatus) && mk.programStatus.force === true));
      if (force) marketo.forced = true;
      // Above the threshold, a record about one lead known by its email goes to the program member
      // import (its rows are keyed by email). The lead was resolved first, so the duplicate policy
      // and "create missing" decide as they do for REST; a duplicate or a forced record stays on REST.
      if (
        bulk &&
        !force &&
        !lead.duplicates &&
        lead.leadIds.length === 1 &&
        typeof email === "string" &&
        email.trim() !== "" &&
        overThreshold(bulkThreshold.value, action.backlog())
      ) {
        const programId = program.value;
        const statusName = status.value;
        const row = await bulk.submit(`${programId}\n${statusName}`, { email: email.trim() }, (rows) =>
          client.bulkImportProgramMembers(programId, statusName, rows),
        );
        const answer = bulkAnswer(row);
        return { result: answer.result, marketo: { ...marketo, ...answer.marketo } };
      }
      // A replayed message (tag-filter's msg.replay) waits behind live ones for Marketo's capacity.
      const replayed = Object.prototype.hasOwnProperty.call(inMsg, "replay");
      const result = await forEachLead(lead.leadIds, async (leadId) => {
        if (force) {
          const removed = await client.removeProgramMember(program.value, leadId);
          if (!removed.ok) return removed;
        }
        return client.setProgramStatus(program.value, status.value, leadId, replayed ? { background: true } : {});
      });
      if (!result.ok && result.error?.code === "1025") {
        const info = await channels.get(program.value).catch((): ProgramChannel | undefined => undefined);
        const e = result.error;
        result.error = new MarketoError({
          code: e.code,
          message: unknownStatusMessage(status.value, program.value, info, e.message),
          category: e.category,
          action: e.action,
          retryable: e.retryable,
          ...(e.operation ? { operation: e.operation } : {}),
          ...(e.requestId ? { requestId: e.requestId } : {}),
        });
      } else if (!result.ok && result.error?.code === "1004" && (lead.source === "cache" || lead.source === "lookup")) {
        // The id learned for this email is gone in Marketo (merged or deleted): look it up afresh next time.
        config.leadIds.forget("email", email);
      }
      return { result, marketo };
    };

    const action = startActionNode(RED, node, def, {
      type: NODE_TYPE,
      operation: OPERATION,
      ...(problems.length ? { configProblem: problems.join("; ") } : {}),
      handle: (record, msg, ctx) => handle(record, msg, ctx.client, ctx.config),
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
