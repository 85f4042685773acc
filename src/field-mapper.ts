/**
 * field-mapper: maps an event message onto a Marketo lead record. Node-RED glue only; the
 * mapping itself is src/lib/flow/field-mapping.ts (with the field-*.ts beside it), shared with the
 * dialog's preview route (src/lib/node-kit/field-mapper-routes.ts).
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { ArrivalOrder } from "./lib/node-kit/arrival-order";
import { countsText } from "./lib/node-kit/counts";
import { registerFieldMapperRoutes } from "./lib/node-kit/field-mapper-routes";
import { throttledStatus, type ThrottledStatus } from "./lib/node-kit/node-status";
import { sendHeld, sendPassed } from "./lib/node-kit/pass-hold";
import { hooksFor } from "./lib/node-kit/source-hooks";
import { compileMapping } from "./lib/flow/field-mapping";
import { problemsReason } from "./lib/flow/field-mapping-apply";
import type { CompileResult, MapOutcome, MappingRow, TargetField } from "./lib/flow/field-mapping-rows";
import { isRecord, toError } from "./lib/node-kit/guards";

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

type Send = (m: Array<MappedMessage | null>) => void;

/** What delivering one mapped message needs from its node. */
interface Delivery {
  counts: { mapped: number; invalid: number };
  status: ThrottledStatus;
  /** The update policies that travel with every record, or undefined when every row overwrites. */
  fieldUpdates: Record<string, unknown> | undefined;
}

/** A record without problems leaves on output 1 (the event kept as msg.source); one with problems is held on output 2. */
function deliver(d: Delivery, msg: MappedMessage, out: MapOutcome, send: Send, done: (err?: Error) => void): void {
  if (out.problems.length === 0) {
    msg.source = msg.payload;
    msg.payload = out.record;
    if (d.fieldUpdates) {
      const prev = msg.marketo;
      msg.marketo = {
        ...(isRecord(prev) ? prev : {}),
        fieldUpdates: { ...d.fieldUpdates },
      };
    }
    d.counts.mapped++;
    sendPassed(msg, send);
  } else {
    d.counts.invalid++;
    sendHeld(
      msg,
      { rule: "validation", reason: problemsReason(out.problems), problems: out.problems, record: out.record },
      send,
    );
  }
  d.status.refresh();
  done();
}

export = function (RED: NodeAPI) {
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
    const counts = { mapped: 0, invalid: 0 };
    const delivery: Delivery = {
      counts,
      status: throttledStatus((): void => {
        node.status({
          fill: counts.invalid > 0 ? "yellow" : "green",
          shape: "dot",
          text: countsText([
            [RED._("field-mapper.status.mapped"), counts.mapped],
            [RED._("field-mapper.status.invalid"), counts.invalid],
          ]),
        });
      }),
      // The rows that do not overwrite travel with the record: marketo-lead reads Marketo's values
      // for those fields before it syncs, and leaves out the ones the policy keeps.
      fieldUpdates:
        compiled.ok && Object.keys(compiled.mapping.updatePolicies).length
          ? compiled.mapping.updatePolicies
          : undefined,
    };
    // JSONata rows make mapping asynchronous, and evaluations take longer for some messages than
    // for others. Messages still leave in arrival order (documented in the help): two updates of
    // one lead swapped would let the older one win in Marketo, and status-mapper downstream judges
    // backward moves by order. Evaluations still run concurrently; only delivery waits.
    const order = new ArrivalOrder();

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
      if (out instanceof Promise) order.after(out, (o, fin) => deliver(delivery, msg, o, send as never, fin), done);
      else deliver(delivery, msg, out, send as never, done);
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      delivery.status.close();
      done();
    });
  }

  RED.nodes.registerType("field-mapper", FieldMapperNode);
  registerFieldMapperRoutes(RED);
};
