/**
 * status-mapper: maps a platform's registration status onto the Marketo program's status ladder
 * and holds back moves Marketo would skip (1037). Glue only: what it decides is in
 * lib/flow/status-mapping.ts, the ladder and the memory in lib/flow/status-ladder.ts and status-memory.ts.
 */
import type { Node, NodeAPI, NodeContext, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { countsText } from "./lib/node-kit/counts";
import { throttledStatus } from "./lib/node-kit/node-status";
import { sendHeld, sendPassed } from "./lib/node-kit/pass-hold";
import { channelTable, channelText, compileTable, presetRows, PRESET_NAMES } from "./lib/flow/status-ladder";
import { typedInputReader, type TypedInputReader } from "./lib/node-kit/typed-input";
import { programKey, StatusMemory } from "./lib/flow/status-memory";
import { decideMove, matchMessage, statusMapperSettings, type Refusal } from "./lib/flow/status-mapping";
import { toError } from "./lib/node-kit/guards";

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

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;
type Handler = (msg: NodeMessageInFlow, send: Send, done: Done) => void;

/** The context key the memory is kept under (node context, the chosen store). */
const MEMORY_KEY = "statusMapperLastStatus";
const PERSIST_DELAY_MS = 1000;

/**
 * Handles messages one at a time, in arrival order, once `start` has been called. With the
 * default (event / msg) readers a message is handled synchronously and this is a plain loop; with
 * a JSONata reader evaluation is asynchronous and takes longer for some messages than for others,
 * and without the queue a later status could be checked against the memory first (Registered then
 * Attended would send Attended and skip Registered as backward). `fin` keeps done() to one call,
 * and a synchronous throw ends its message with done(err) instead of stalling the queue.
 */
function orderedQueue(handle: Handler) {
  const waiting: Array<[NodeMessageInFlow, Send, Done]> = [];
  let ready = false;
  let closed = false;
  let busy = false;
  let pumping = false;
  function pump() {
    if (pumping) return; // a done() called synchronously inside the loop: the loop goes on
    pumping = true;
    try {
      while (ready && !busy && !closed && waiting.length > 0) {
        const [m, s, d] = waiting.shift()!;
        busy = true;
        let finished = false;
        const fin: Done = (err) => {
          if (finished) return;
          finished = true;
          busy = false;
          d(err);
          pump();
        };
        try {
          handle(m, s, fin);
        } catch (err) {
          fin(toError(err));
        }
      }
    } finally {
      pumping = false;
    }
  }
  return {
    get ready() {
      return ready;
    },
    push(msg: NodeMessageInFlow, send: Send, done: Done) {
      waiting.push([msg, send, done]);
      pump();
    },
    /** Lets the queue run (once the memory is loaded). */
    start() {
      ready = true;
      pump();
    },
    /** Stops the queue and ends every waiting message with `why`. */
    close(why: string) {
      closed = true;
      for (const [, , d] of waiting.splice(0)) d(new Error(why));
    },
  };
}

/** The memory's copy in the context store: written a second after a change, and on close. */
function memoryPersistence(ctx: NodeContext, store: string | undefined, warn: (err: Error) => void) {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const save = (memory: StatusMemory, cb?: () => void) => {
    cancel();
    ctx.set(MEMORY_KEY, memory, store as string, (err?: Error) => {
      if (err) warn(err);
      cb?.();
    });
  };
  return {
    load(cb: (memory: unknown, err?: Error) => void) {
      ctx.get(MEMORY_KEY, store as string, (err: Error | undefined, value: unknown) => cb(value, err));
    },
    save,
    schedule(memory: StatusMemory) {
      if (timer || closed) return;
      timer = setTimeout(() => save(memory), PERSIST_DELAY_MS);
      timer.unref?.();
    },
    /** Stops the timer without saving (the node removed, or never loaded). */
    cancel() {
      closed = true;
      cancel();
    },
    close() {
      closed = true;
    },
  };
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
function paintCounts(RED: NodeAPI, node: Node, counts: { mapped: number; skipped: number; errors: number }) {
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

    const counts = { mapped: 0, skipped: 0, errors: 0 };
    const status = throttledStatus(() => paintCounts(RED, node, counts));

    // Memory of the last status per (lead, program), loaded once from the context store.
    const warnStore = (err: Error) => node.warn(RED._("status-mapper.errors.store", { error: err.message }));
    const persistence = memoryPersistence(node.context(), settings.store, warnStore);
    let memory = new StatusMemory(settings.maxLeads);
    let closed = false;

    function refuse(msg: NodeMessageInFlow, send: Send, done: Done, { filtered, policy }: Refusal) {
      if (policy === "error") {
        (msg as NodeMessageInFlow & { filtered?: unknown }).filtered = filtered;
        counts.errors++;
        status.refresh();
        done(new Error(filtered.reason));
        return;
      }
      counts.skipped++;
      status.refresh();
      sendHeld(msg, filtered, send);
      done();
    }

    function handle(msg: NodeMessageInFlow, send: Send, done: Done) {
      if (configError) {
        counts.errors++;
        status.refresh();
        return done(configError);
      }
      readers!.status.read(msg, (r) => {
        const matched = matchMessage(table, r, msg as object, configProgram, settings.unknown);
        if (matched.kind === "refuse") return refuse(msg, send, done, matched);
        readers!.lead.read(msg, (lr) => {
          const d = decideMove(matched, lr, memory, settings.backward, settings.repeat);
          if (d.kind === "refuse") return refuse(msg, send, done, d);
          if (matched.marketo) matched.marketo.programStatus = d.status;
          else (msg as { marketo?: unknown }).marketo = { programStatus: d.status };
          sendPassed(msg, send);
          counts.mapped++;
          status.refresh();
          // Recorded only once the message has gone out on output 1.
          if (d.remember !== undefined) memory.set(d.remember, d.status);
          if (d.leadKnown) persistence.schedule(memory);
          done();
        });
      });
    }

    const queue = orderedQueue(handle);
    if (configError) {
      node.error(configError.message);
      node.status({ fill: "red", shape: "ring", text: RED._("status-mapper.status.invalid") });
      queue.start();
    } else {
      persistence.load((value, err) => {
        if (closed) return;
        if (err) warnStore(err);
        memory = StatusMemory.from(err ? undefined : value, settings.maxLeads);
        persistence.save(memory);
        queue.start();
      });
    }

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => queue.push(msg, send, done));

    node.on("close", (removed: boolean, done: () => void) => {
      closed = true;
      status.close();
      const ready = queue.ready;
      queue.close(
        ready
          ? "status-mapper closed before handling this message"
          : "status-mapper closed before its memory was loaded",
      );
      if (removed || configError || !ready) {
        persistence.cancel();
        return done();
      }
      persistence.close();
      persistence.save(memory, done);
    });
  }

  RED.nodes.registerType("status-mapper", StatusMapperNode);

  // Editor helpers: the presets (so the dialog fills the table from the same data) and the
  // channel table an admin must build in Marketo, computed from the dialog's unsaved rows.
  RED.httpAdmin.get("/status-mapper/presets", RED.auth.needsPermission("status-mapper.read"), (_req, res) => {
    const out: Record<string, unknown> = {};
    for (const p of PRESET_NAMES) out[p] = presetRows(p);
    res.json(out);
  });
  RED.httpAdmin.post("/status-mapper/channel", RED.auth.needsPermission("status-mapper.read"), (req, res) => {
    const rules = req.body && typeof req.body === "object" ? (req.body as { rules?: unknown }).rules : undefined;
    const { statuses, problems } = channelTable(rules);
    res.json({ statuses, problems, text: channelText(statuses) });
  });
};
