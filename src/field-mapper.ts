/**
 * field-mapper: maps an event message onto a Marketo lead record. Node-RED glue only; the
 * mapping itself is src/lib/flow/field-mapping.ts (with the field-*.ts beside it), shared with the dialog's preview route.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { countsText } from "./lib/node-kit/counts";
import { answerErrorsInJson } from "./lib/node-kit/admin-routes";
import { throttledStatus } from "./lib/node-kit/node-status";
import { sendHeld, sendPassed } from "./lib/node-kit/pass-hold";
import { compileMapping } from "./lib/flow/field-mapping";
import { problemsReason } from "./lib/flow/field-mapping-apply";
import { parsePreviewBody } from "./lib/flow/field-mapping-preview";
import type { CompileResult, MapOutcome, MappingRow, SourceHooks, TargetField } from "./lib/flow/field-mapping-rows";
import { isMarketoConfig } from "./lib/node-kit/marketo-config-api";
import { BUILTIN_TARGET_FIELDS, targetFieldsFromDescribe } from "./lib/flow/field-targets";
import { errorText, isRecord, toError } from "./lib/node-kit/guards";

interface FieldMapperDef extends NodeDef {
  rows: MappingRow[];
  targetFields: TargetField[];
  /** id of a marketo-config node (optional; used by the dialog's Refresh target fields). */
  marketo: string;
}

type MappedMessage = NodeMessageInFlow & {
  source?: unknown;
  marketo?: unknown;
  filtered?: { rule: string; reason: string; problems: MapOutcome["problems"]; record: MapOutcome["record"] };
};

/** Canvas status is refreshed at most this often; heavy traffic must not flood the editor. */

type RED = NodeAPI;

/** How env vars and JSONata resolve for `node` (null: as for a node that is not deployed). */
function hooksFor(RED: RED, node: Node | null): SourceHooks {
  return {
    env: (name) => RED.util.getSetting(node as Node, name),
    jsonata: (expression) => {
      const prepared = RED.util.prepareJSONataExpression(expression, node as Node);
      return (msg) =>
        new Promise((resolve, reject) => {
          try {
            RED.util.evaluateJSONataExpression(prepared, msg as Record<string, unknown>, (err, value) =>
              err ? reject(err) : resolve(value),
            );
          } catch (err) {
            reject(err);
          }
        });
    },
  };
}

type DescribeAnswer =
  { status: "ok"; fields: TargetField[] } | { status: "no-config" } | { status: "no-client"; error?: string };

/**
 * The seam to Marketo: reads the lead describe through the marketo-config node `configId`'s
 * shared client (one call, under the config's limits). Rejects with the client's error when
 * describe fails.
 */
async function describeThrough(RED: RED, configId: string): Promise<DescribeAnswer> {
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

export = function (RED: RED) {
  function FieldMapperNode(this: Node, config: FieldMapperDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const compiled: CompileResult = compileMapping(config.rows, config.targetFields, hooksFor(RED, node));
    let configError: Error | undefined;
    if (!compiled.ok) {
      configError = new Error(`${RED._("field-mapper.errors.badConfig")}: ${compiled.errors.join("; ")}`);
      node.error(configError.message);
      node.status({ fill: "red", shape: "ring", text: "field-mapper.status.badConfig" });
    } else {
      for (const w of compiled.mapping.warnings) node.warn(w);
    }
    // The rows that do not overwrite travel with the record: marketo-lead reads Marketo's values
    // for those fields before it syncs, and leaves out the ones the policy keeps.
    const fieldUpdates =
      compiled.ok && Object.keys(compiled.mapping.updatePolicies).length ? compiled.mapping.updatePolicies : undefined;

    let mapped = 0;
    let invalid = 0;
    const status = throttledStatus((): void => {
      node.status({
        fill: invalid > 0 ? "yellow" : "green",
        shape: "dot",
        text: countsText([
          [RED._("field-mapper.status.mapped"), mapped],
          [RED._("field-mapper.status.invalid"), invalid],
        ]),
      });
    });

    const deliver = (
      msg: MappedMessage,
      out: MapOutcome,
      send: (m: Array<MappedMessage | null>) => void,
      done: (err?: Error) => void,
    ): void => {
      if (out.problems.length === 0) {
        msg.source = msg.payload;
        msg.payload = out.record;
        if (fieldUpdates) {
          const prev = msg.marketo;
          msg.marketo = {
            ...(isRecord(prev) ? prev : {}),
            fieldUpdates: { ...fieldUpdates },
          };
        }
        mapped++;
        sendPassed(msg, send);
      } else {
        invalid++;
        sendHeld(
          msg,
          { rule: "validation", reason: problemsReason(out.problems), problems: out.problems, record: out.record },
          send,
        );
      }
      status.refresh();
      done();
    };

    /** The last asynchronous delivery; the next one is chained after it (arrival order). Never rejects. */
    let tail: Promise<void> = Promise.resolve();

    node.on("input", (msg: NodeMessageInFlow, send, done) => {
      if (configError || !compiled.ok) {
        done(configError);
        return;
      }
      let out: MapOutcome | Promise<MapOutcome>;
      try {
        out = compiled.mapping.map(msg);
      } catch (err) {
        done(toError(err));
        return;
      }
      if (out instanceof Promise) {
        // JSONata rows make mapping asynchronous, and evaluations take longer for some messages
        // than for others. Messages still leave in arrival order (documented in the help): two
        // updates of one lead swapped would let the older one win in Marketo, and status-mapper
        // downstream judges backward moves by order. Evaluations still run concurrently; only
        // delivery waits for the messages ahead. `fin` keeps done() to exactly one call.
        let finished = false;
        const fin = (err?: Error): void => {
          if (finished) return;
          finished = true;
          done(err);
        };
        const settled = out.then(
          (o) => ({ o }),
          (err: unknown) => ({ err }),
        );
        tail = tail
          .then(() => settled)
          .then((r) => ("o" in r ? deliver(msg as MappedMessage, r.o, send as never, fin) : fin(toError(r.err))))
          .catch((err: unknown) => fin(toError(err)));
      } else {
        deliver(msg as MappedMessage, out, send as never, done);
      }
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      status.close();
      done();
    });
  }

  RED.nodes.registerType("field-mapper", FieldMapperNode);

  // --- admin routes (the dialog's Preview and Refresh target fields) ---------------------------

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
      (answer) => {
        if (answer.status === "ok") res.json({ source: "marketo", fields: answer.fields });
        else if (answer.status === "no-config")
          res.status(404).json({
            error: configId
              ? `marketo-config node ${configId} not found (deploy it first)`
              : "no marketo-config node chosen",
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
      },
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
};
