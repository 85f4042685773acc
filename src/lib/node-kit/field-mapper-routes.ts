/**
 * field-mapper's admin routes: the dialog's Preview (its unsaved rows run through the runtime's
 * own mapping code) and Refresh target fields (Marketo's lead describe through a marketo-config).
 */
import type { NodeAPI } from "node-red";
import { answerErrorsInJson } from "./admin-routes";
import { hooksFor } from "./source-hooks";
import { isMarketoConfig } from "./marketo-config-api";
import { errorText } from "./guards";
import { compileMapping } from "../flow/field-mapping";
import { problemsReason } from "../flow/field-mapping-apply";
import { parsePreviewBody } from "../flow/field-mapping-preview";
import type { CompileResult, TargetField } from "../flow/field-mapping-rows";
import { BUILTIN_TARGET_FIELDS, targetFieldsFromDescribe } from "../flow/field-targets";

type DescribeAnswer =
  { status: "ok"; fields: TargetField[] } | { status: "no-config" } | { status: "no-client"; error?: string };

/**
 * The seam to Marketo: reads the lead describe through the marketo-config node `configId`'s
 * shared client (one call, under the config's limits). Rejects with the client's error when
 * describe fails.
 */
async function describeThrough(RED: NodeAPI, configId: string): Promise<DescribeAnswer> {
  const config = configId ? RED.nodes.getNode(configId) : null;
  if (!config) return { status: "no-config" };
  if (!isMarketoConfig(config)) return { status: "no-client" };
  let client;
  try {
    client = config.getClient();
  } catch (err) {
    return { status: "no-client", error: errorText(err) };
  }
  return { status: "ok", fields: targetFieldsFromDescribe(await client.describeLeads("describe2")) };
}

/** The Refresh target fields answer: Marketo's fields, or why not with the built-in list to fall back on. */
function answerTargets(
  res: { json(body: unknown): void; status(code: number): { json(body: unknown): void } },
  configId: string,
  answer: DescribeAnswer,
): void {
  if (answer.status === "ok") res.json({ source: "marketo", fields: answer.fields });
  else if (answer.status === "no-config")
    res.status(404).json({
      error: configId ? `marketo-config node ${configId} not found (deploy it first)` : "no marketo-config node chosen",
      code: "no_config",
      builtin: BUILTIN_TARGET_FIELDS,
    });
  else
    res.status(501).json({
      error: answer.error
        ? `the marketo-config node is not usable: ${answer.error}`
        : "the marketo-config node cannot describe lead fields",
      code: "no_client",
      builtin: BUILTIN_TARGET_FIELDS,
    });
}

export function registerFieldMapperRoutes(RED: NodeAPI): void {
  const write = RED.auth.needsPermission("field-mapper.write");
  const read = RED.auth.needsPermission("field-mapper.read");

  /** Maps a sample message with the dialog's unsaved rows, through the runtime's own code. */
  RED.httpAdmin.post("/field-mapper/preview", write, (req, res) => {
    const parsed = parsePreviewBody(req.body);
    if (!parsed.ok) {
      res.status(400).json({ error: parsed.error });
      return;
    }
    const { rows, targetFields, msg, id } = parsed.request;
    // A deployed node resolves env vars as its flow / group would; otherwise process env.
    const deployed = id ? RED.nodes.getNode(id) : null;
    let compiled: CompileResult;
    try {
      compiled = compileMapping(rows, targetFields, hooksFor(RED, deployed));
    } catch (err) {
      res.status(400).json({ error: errorText(err) });
      return;
    }
    if (!compiled.ok) {
      res.status(400).json({ error: compiled.errors.join("; "), errors: compiled.errors });
      return;
    }
    const mapping = compiled.mapping;
    Promise.resolve()
      .then(() => mapping.map(msg))
      .then(
        (out) =>
          res.json({
            output: out.problems.length === 0 ? 1 : 2,
            record: out.record,
            problems: out.problems,
            reason: out.problems.length ? problemsReason(out.problems) : undefined,
            warnings: mapping.warnings,
          }),
        (err: unknown) => res.status(500).json({ error: errorText(err) }),
      );
  });

  /** Target fields through the chosen marketo-config (see describeThrough). */
  RED.httpAdmin.post("/field-mapper/targets", write, (req, res) => {
    const body: unknown = req.body;
    const configId =
      body !== null && typeof body === "object" && typeof (body as { config?: unknown }).config === "string"
        ? (body as { config: string }).config
        : "";
    describeThrough(RED, configId).then(
      (answer) => answerTargets(res, configId, answer),
      (err: unknown) =>
        res.status(502).json({ error: `Marketo describe failed: ${errorText(err)}`, code: "describe_failed" }),
    );
  });

  /** The built-in list of common Marketo lead fields (dialog suggestions before any refresh). */
  RED.httpAdmin.get("/field-mapper/builtin-targets", read, (_req, res) => {
    res.json({ fields: BUILTIN_TARGET_FIELDS });
  });

  // Malformed bodies (bad JSON, too large) fail in the admin app's body parser before any route
  // runs; answer those for our paths with JSON instead of express's HTML page.
  answerErrorsInJson(RED, "field-mapper");
}
