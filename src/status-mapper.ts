/**
 * status-mapper: maps a platform's registration status onto the Marketo program's status ladder
 * and holds back moves Marketo would skip (1037). Glue only: what it decides is in
 * lib/flow/status-mapping.ts, the ladder and the memory in lib/flow/status-ladder.ts and status-memory.ts;
 * the ordered input, the memory's copy in the context store and the editor routes are in lib/node-kit.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { countsText } from "./lib/node-kit/counts";
import { throttledStatus, type ThrottledStatus } from "./lib/node-kit/node-status";
import { sendHeld, sendPassed } from "./lib/node-kit/pass-hold";
import { compileTable, presetRows, type StatusTable } from "./lib/flow/status-ladder";
import { typedInputReader, type TypedInputReader } from "./lib/node-kit/typed-input";
import { programKey, StatusMemory } from "./lib/flow/status-memory";
import {
  decideMove,
  matchMessage,
  statusMapperSettings,
  type Refusal,
  type StatusMapperSettings,
} from "./lib/flow/status-mapping";
import { orderedQueue, type Done, type Send } from "./lib/node-kit/ordered-queue";
import { memoryPersistence, type MemoryPersistence } from "./lib/node-kit/status-memory-store";
import { registerStatusMapperRoutes } from "./lib/node-kit/status-mapper-routes";

interface StatusMapperDef extends NodeDef {
  preset?: string;
  rules?: unknown;
  statusProperty?: string;
  statusPropertyType?: string;
  leadProperty?: string;
  leadPropertyType?: string;
  programId?: string | number;
  backward?: string;
  repeat?: string;
  unknown?: string;
  store?: string;
  maxLeads?: string | number;
}

type Counts = { mapped: number; skipped: number; errors: number };

/** What mapping one message needs from its node; `memory` is replaced once it is loaded. */
interface StatusMapping {
  settings: StatusMapperSettings;
  table: StatusTable;
  configProgram: string | null;
  readers: { status: TypedInputReader; lead: TypedInputReader } | undefined;
  configError: Error | undefined;
  counts: Counts;
  status: ThrottledStatus;
  memory: StatusMemory;
  persistence: MemoryPersistence;
}

/** The status and lead readers, or undefined with the problem added when a property is invalid. */
function prepareReaders(
  RED: NodeAPI,
  node: Node,
  config: StatusMapperDef,
  problems: string[],
): { status: TypedInputReader; lead: TypedInputReader } | undefined {
  try {
    return {
      status: typedInputReader(
        RED,
        node,
        config.statusProperty || "registration.status",
        config.statusPropertyType || "event",
      ),
      lead: typedInputReader(RED, node, config.leadProperty || "profile.email", config.leadPropertyType || "event"),
    };
  } catch (err) {
    problems.push(`a property is invalid: ${(err as Error).message}`);
    return undefined;
  }
}

/** The node's counts on the canvas: red once anything failed, yellow once anything was held back. */
function paintCounts(RED: NodeAPI, node: Node, counts: Counts) {
  const { mapped, skipped, errors } = counts;
  node.status({
    fill: errors > 0 ? "red" : skipped > 0 ? "yellow" : "green",
    shape: errors > 0 ? "ring" : "dot",
    text: countsText([
      [RED._("status-mapper.status.mapped"), mapped],
      [RED._("status-mapper.status.skipped"), skipped],
      [RED._("status-mapper.status.errors"), errors],
    ]),
  });
}

/** A message not mapped: an error for a Catch node under the "error" policy, else held on output 2. */
function refuse(m: StatusMapping, msg: NodeMessageInFlow, send: Send, done: Done, { filtered, policy }: Refusal) {
  if (policy === "error") {
    (msg as NodeMessageInFlow & { filtered?: unknown }).filtered = filtered;
    m.counts.errors++;
    m.status.refresh();
    done(new Error(filtered.reason));
    return;
  }
  m.counts.skipped++;
  m.status.refresh();
  sendHeld(msg, filtered, send);
  done();
}

/** Maps one message's status, checks the move against the memory, and sends it or holds it back. */
function mapStatus(m: StatusMapping, msg: NodeMessageInFlow, send: Send, done: Done) {
  if (m.configError) {
    m.counts.errors++;
    m.status.refresh();
    return done(m.configError);
  }
  m.readers!.status.read(msg, (r) => {
    const matched = matchMessage(m.table, r, msg as object, m.configProgram, m.settings.unknown);
    if (matched.kind === "refuse") return refuse(m, msg, send, done, matched);
    m.readers!.lead.read(msg, (lr) => {
      const d = decideMove(matched, lr, m.memory, m.settings.backward, m.settings.repeat);
      if (d.kind === "refuse") return refuse(m, msg, send, done, d);
      if (matched.marketo) matched.marketo.programStatus = d.status;
      else (msg as { marketo?: unknown }).marketo = { programStatus: d.status };
      sendPassed(msg, send);
      m.counts.mapped++;
      m.status.refresh();
      // Recorded only once the message has gone out on output 1.
      if (d.remember !== undefined) m.memory.set(d.remember, d.status);
      if (d.leadKnown) m.persistence.schedule(m.memory);
      done();
    });
  });
}

export = function (RED: NodeAPI) {
  function StatusMapperNode(this: Node, config: StatusMapperDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const settings = statusMapperSettings(config);

    const { table, problems } = compileTable(config.rules ?? presetRows("kaltura"));
    const configProgram = programKey(config.programId);
    if (configProgram === null)
      problems.push(`the program id ${String(config.programId)} is not a positive whole number`);

    const readers = prepareReaders(RED, node, config, problems);
    const configError =
      problems.length > 0 ? new Error(`status-mapper is not configured correctly: ${problems.join("; ")}`) : undefined;

    const counts: Counts = { mapped: 0, skipped: 0, errors: 0 };
    // Memory of the last status per (lead, program), loaded once from the context store.
    const warnStore = (err: Error) => node.warn(RED._("status-mapper.errors.store", { error: err.message }));
    const m: StatusMapping = {
      settings,
      table,
      configProgram,
      readers,
      configError,
      counts,
      status: throttledStatus(() => paintCounts(RED, node, counts)),
      memory: new StatusMemory(settings.maxLeads),
      persistence: memoryPersistence(node.context(), settings.store, warnStore),
    };
    let closed = false;

    const queue = orderedQueue((msg, send, done) => mapStatus(m, msg, send, done));
    if (configError) {
      node.error(configError.message);
      node.status({ fill: "red", shape: "ring", text: RED._("status-mapper.status.invalid") });
      queue.start();
    } else {
      m.persistence.load((value, err) => {
        if (closed) return;
        if (err) warnStore(err);
        m.memory = StatusMemory.from(err ? undefined : value, settings.maxLeads);
        m.persistence.save(m.memory);
        queue.start();
      });
    }

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => queue.push(msg, send, done));

    node.on("close", (removed: boolean, done: () => void) => {
      closed = true;
      m.status.close();
      const ready = queue.ready;
      queue.close(
        ready
          ? "status-mapper closed before handling this message"
          : "status-mapper closed before its memory was loaded",
      );
      if (removed || configError || !ready) {
        m.persistence.cancel();
        return done();
      }
      m.persistence.close();
      m.persistence.save(m.memory, done);
    });
  }

  RED.nodes.registerType("status-mapper", StatusMapperNode);
  registerStatusMapperRoutes(RED);
};
