/**
 * marketo-lead's dialog form picker: Get Forms, and Get Form Fields of the chosen one, through a
 * deployed marketo-config (its shared limits and day count apply). Errors name their category.
 */
import { errorText } from "./guards";
import type { NodeAPI } from "node-red";
import { MarketoError, type MarketoClient } from "../marketo";
import { positiveId } from "../actions/lead-action";
import { isMarketoConfig } from "./marketo-config-api";

export function registerLeadFormRoutes(RED: NodeAPI): void {
  const formsClient = (configId: unknown): { ok: true; client: MarketoClient } | { ok: false; message: string } => {
    const config = typeof configId === "string" && configId ? RED.nodes.getNode(configId) : undefined;
    if (!configId) return { ok: false, message: "choose a marketo-config first" };
    if (!isMarketoConfig(config))
      return { ok: false, message: "the chosen marketo-config is not deployed yet: deploy it, then pick again" };
    if (config.configError) return { ok: false, message: config.configError.message };
    try {
      return { ok: true, client: config.getClient() };
    } catch (err) {
      return { ok: false, message: errorText(err) };
    }
  };
  const failed = (res: { status(n: number): { json(b: unknown): void } }, err: unknown): void => {
    const e =
      err instanceof MarketoError
        ? { category: err.category, code: err.code, message: err.message }
        : { category: "network", message: errorText(err) };
    res.status(200).json({ ok: false, error: e });
  };
  RED.httpAdmin.get("/marketo-lead/forms", RED.auth.needsPermission("marketo-lead.read"), (req, res) => {
    const c = formsClient(req.query.config);
    if (!c.ok) return void res.status(400).json({ ok: false, error: { category: "validation", message: c.message } });
    c.client
      .getForms()
      .then((forms) =>
        res.json({
          ok: true,
          forms: forms.map((f) => ({ id: f.id, name: f.name, ...(f.status ? { status: f.status } : {}) })),
        }),
      )
      .catch((err: unknown) => failed(res, err));
  });
  RED.httpAdmin.get("/marketo-lead/forms/:id/fields", RED.auth.needsPermission("marketo-lead.read"), (req, res) => {
    const c = formsClient(req.query.config);
    if (!c.ok) return void res.status(400).json({ ok: false, error: { category: "validation", message: c.message } });
    const id = positiveId(req.params.id);
    if (id === undefined)
      return void res.status(400).json({
        ok: false,
        error: {
          category: "validation",
          message: `the form id ${JSON.stringify(req.params.id)} is not a positive whole number`,
        },
      });
    c.client
      .getFormFields(id)
      .then((fields) =>
        res.json({
          ok: true,
          formId: id,
          fields: fields.map((f) => ({
            id: f.id,
            ...(f.label ? { label: f.label } : {}),
            ...(f.dataType ? { dataType: f.dataType } : {}),
            required: f.required === true,
          })),
        }),
      )
      .catch((err: unknown) => failed(res, err));
  });
}
