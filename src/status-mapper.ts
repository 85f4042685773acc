/**
 * status-mapper: maps a platform's registration status onto the Marketo program's status ladder
 * and holds back moves Marketo would skip (1037). Glue only; the logic is in lib/status-*.ts.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { countsText } from "./lib/node-kit/counts";
import { throttledStatus } from "./lib/node-kit/node-status";
import { sendHeld, sendPassed } from "./lib/node-kit/pass-hold";
import {
  channelTable,
  channelText,
  compileTable,
  matchStatus,
  presetRows,
  PRESET_NAMES,
  type Filtered,
  type MappedStatus,
} from "./lib/flow/status-ladder";
import { typedInputReader, type TypedInputReader } from "./lib/node-kit/typed-input";
import {
  backwardReason,
  classifyMove,
  decide,
  leadKey,
  memoryKey,
  programKey,
  unchangedReason,
  StatusMemory,
  DEFAULT_MAX_LEADS,
  type BackwardPolicy,
  type RepeatPolicy,
} from "./lib/flow/status-memory";
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

/** The context key the memory is kept under (node context, the chosen store). */
const MEMORY_KEY = "statusMapperLastStatus";
const PERSIST_DELAY_MS = 1000;
export = function (RED: NodeAPI) {
  function StatusMapperNode(this: Node, config: StatusMapperDef) {
    RED.nodes.createNode(this, config);
    const node = this;

    const backward: BackwardPolicy =
      config.backward === "pass" || config.backward === "error" || config.backward === "force"
        ? config.backward
        : "skip";
    const repeat: RepeatPolicy = config.repeat === "skip" ? "skip" : "pass";
    const unknownPolicy: "skip" | "error" = config.unknown === "error" ? "error" : "skip";
    const store = typeof config.store === "string" && config.store.trim() !== "" ? config.store.trim() : undefined;
    const maxLeads = Number(config.maxLeads ?? DEFAULT_MAX_LEADS);

    const { table, problems } = compileTable(config.rules ?? presetRows("kaltura"));
    const configProgram = programKey(config.programId);
    if (configProgram === null)
      problems.push(`the program id ${String(config.programId)} is not a positive whole number`);

    let readStatus: TypedInputReader | undefined;
    let readLead: TypedInputReader | undefined;
    try {
      readStatus = typedInputReader(
        RED,
        node,
        config.statusProperty || "registration.status",
        config.statusPropertyType || "event",
      );
      readLead = typedInputReader(
        RED,
        node,
        config.leadProperty || "profile.email",
        config.leadPropertyType || "event",
      );
    } catch (err) {
      problems.push(`a property is invalid: ${(err as Error).message}`);
    }
    const configError =
      problems.length > 0 ? new Error(`status-mapper is not configured correctly: ${problems.join("; ")}`) : undefined;

    let mapped = 0;
    let skipped = 0;
    let errors = 0;
    function paint() {
      const text = countsText([
        [RED._("status-mapper.status.mapped"), mapped],
        [RED._("status-mapper.status.skipped"), skipped],
        [RED._("status-mapper.status.errors"), errors],
      ]);
      node.status({
        fill: errors > 0 ? "red" : skipped > 0 ? "yellow" : "green",
        shape: errors > 0 ? "ring" : "dot",
        text,
      });
    }
    const status = throttledStatus(paint);
    const showCounts = (): void => status.refresh();

    // Memory of the last status per (lead, program), loaded once from the context store.
    const ctx = node.context();
    let memory = new StatusMemory(maxLeads);
    let ready = false;
    let closed = false;
    /** Messages not yet handled, in arrival order (see pump). */
    const waiting: Array<[NodeMessageInFlow, Send, Done]> = [];
    let busy = false;
    let pumping = false;
    let persistTimer: NodeJS.Timeout | undefined;

    function persist(cb?: () => void) {
      if (persistTimer) clearTimeout(persistTimer);
      persistTimer = undefined;
      ctx.set(MEMORY_KEY, memory, store as string, (err?: Error) => {
        if (err) node.warn(RED._("status-mapper.errors.store", { error: err.message }));
        cb?.();
      });
    }
    function schedulePersist() {
      if (persistTimer || closed) return;
      persistTimer = setTimeout(() => persist(), PERSIST_DELAY_MS);
      persistTimer.unref?.();
    }

    if (configError) {
      node.error(configError.message);
      node.status({ fill: "red", shape: "ring", text: RED._("status-mapper.status.invalid") });
      ready = true;
    } else {
      ctx.get(MEMORY_KEY, store as string, (err: Error | undefined, value: unknown) => {
        if (closed) return;
        if (err) node.warn(RED._("status-mapper.errors.store", { error: err.message }));
        memory = StatusMemory.from(err ? undefined : value, maxLeads);
        persist();
        ready = true;
        pump();
      });
    }

    /**
     * Handles the waiting messages one at a time, in arrival order. With the default (event / msg)
     * readers a message is handled synchronously and this is a plain loop; with a JSONata reader
     * evaluation is asynchronous and takes longer for some messages than for others, and without
     * the queue a later status could be checked against the memory first (Registered then Attended
     * would send Attended and skip Registered as backward). `fin` keeps done() to one call, and a
     * synchronous throw ends its message with done(err) instead of stalling the queue.
     */
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

    function reject(
      msg: NodeMessageInFlow,
      send: Send,
      done: Done,
      filtered: Filtered,
      policy: "skip" | "error" | "pass",
    ) {
      if (policy === "error") {
        (msg as NodeMessageInFlow & { filtered?: Filtered }).filtered = filtered;
        errors++;
        showCounts();
        done(new Error(filtered.reason));
        return;
      }
      skipped++;
      showCounts();
      sendHeld(msg, filtered, send);
      done();
    }

    function handle(msg: NodeMessageInFlow, send: Send, done: Done) {
      if (configError) {
        errors++;
        showCounts();
        return done(configError);
      }
      readStatus!.read(msg, (r) => {
        if (!r.ok) return reject(msg, send, done, { rule: "invalid-input", reason: r.reason }, unknownPolicy);
        const m = matchStatus(table, r.value, r.where);
        if (!m.ok) return reject(msg, send, done, m.filtered, unknownPolicy);

        const mk = (msg as { marketo?: unknown }).marketo;
        if (mk !== undefined && (mk === null || typeof mk !== "object" || Array.isArray(mk))) {
          const what = mk === null ? "null" : Array.isArray(mk) ? "an array" : `a ${typeof mk}`;
          return reject(
            msg,
            send,
            done,
            { rule: "invalid-input", reason: `msg.marketo is ${what}, not an object` },
            unknownPolicy,
          );
        }
        const rawProgram = (msg as { programId?: unknown }).programId;
        const program = rawProgram === undefined ? configProgram! : programKey(rawProgram);
        if (program === null) {
          return reject(
            msg,
            send,
            done,
            {
              rule: "invalid-program",
              reason: `msg.programId is not a program id: ${String(rawProgram).slice(0, 40)}`,
            },
            unknownPolicy,
          );
        }
        const target = m.target;

        const out = (force = false) => {
          const ps: MappedStatus = {
            name: target.name,
            step: target.step,
            success: target.success,
            source: m.source,
            ...(force ? { force: true } : {}),
          };
          if (mk) (mk as Record<string, unknown>).programStatus = ps;
          else (msg as { marketo?: unknown }).marketo = { programStatus: ps };
          sendPassed(msg, send);
          mapped++;
          showCounts();
        };

        readLead!.read(msg, (lr) => {
          const lead = lr.ok ? leadKey(lr.value) : undefined;
          if (lead === undefined) {
            if (backward === "pass") {
              out();
              return done();
            }
            // "force" without a lead cannot know the move is backward: it is refused like skip, never forced blind.
            const why = lr.ok ? `no usable lead key at ${lr.where}` : lr.reason;
            return reject(
              msg,
              send,
              done,
              { rule: "no-lead", reason: `${why}; cannot check for a backward move` },
              backward === "force" ? "skip" : backward,
            );
          }
          const key = memoryKey(lead, program);
          const last = memory.get(key);
          const move = classifyMove(last, target);
          const decision = decide(move, backward, repeat);
          if (decision !== "send") {
            const filtered: Filtered =
              move === "backward"
                ? { rule: "backward", reason: backwardReason(target, last!, program) }
                : { rule: "unchanged", reason: unchangedReason(target, program) };
            return reject(msg, send, done, filtered, decision);
          }
          const forced = move === "backward" && backward === "force";
          out(forced);
          // Recorded only once the message has gone out on output 1. A backward move sent under
          // the "pass" policy is not recorded: Marketo skips it, so the member stays where it was.
          // A forced one is: the program status node takes the member out and sets it again.
          if (move !== "backward" || forced) memory.set(key, target);
          schedulePersist();
          done();
        });
      });
    }

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => {
      waiting.push([msg, send, done]);
      pump();
    });

    node.on("close", (removed: boolean, done: () => void) => {
      closed = true;
      status.close();
      for (const [, , d] of waiting.splice(0))
        d(
          new Error(
            ready
              ? "status-mapper closed before handling this message"
              : "status-mapper closed before its memory was loaded",
          ),
        );
      if (removed || configError || !ready) {
        if (persistTimer) clearTimeout(persistTimer);
        persistTimer = undefined;
        return done();
      }
      persist(done);
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
