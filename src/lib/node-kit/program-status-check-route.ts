/**
 * marketo-program-status's "Check program" admin route: reads the program and its channel
 * through a deployed marketo-config and says which of the statuses the flow may send the
 * channel lacks.
 */
import type { NodeAPI } from "node-red";
import { MarketoError, type MarketoClient } from "../marketo";
import { checkReport, readProgramChannel, statusesOfMappers, toProgramId, NODE_TYPE } from "../actions/program-status";
import { isMarketoConfig } from "./marketo-config-api";
import { describeError } from "./program-status-node";
import { isRecord } from "./guards";

/**
 * The body: `{config, programId, statuses?: string[], mappers?: [{rules, preset}]}` (the
 * status-mapper nodes wired before the node in the editor, unsaved rows included).
 */
export function registerProgramCheckRoute(RED: NodeAPI): void {
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
}
