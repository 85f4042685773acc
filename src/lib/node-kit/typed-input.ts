/**
 * The one reader for the nodes' TypedInput settings (msg, event, flow, global, jsonata, json,
 * env, str, num), prepared once at deploy and read per message, with one result shape.
 *
 * - `msg` and `event` paths are split at deploy (a bad path is a deploy problem) and read through
 *   own properties only, so `__proto__` and the like never reach the prototype. A missing final
 *   property reads as undefined; a step that is not an object fails, naming the step.
 * - `event` is the platform event wherever it is now (see eventRoot): msg.source once
 *   field-mapper has run, else the record.
 * - `jsonata` is prepared once; `json` is parsed once and each read gets its own copy; `env` is
 *   resolved at deploy; `str` and `num` are constants.
 * - `flow` and `global` are read per message through Node-RED's context.
 *
 * For a message whose payload is an array of records, pass the record and its index: `msg`
 * paths and expressions then see that record as msg.payload.
 */
import type { Node, NodeAPI } from "node-red";
import { eventRoot } from "../flow/event";
import { readPath } from "../flow/paths";
import { errorText } from "./guards";

/** What one read found: the value and where it came from, or why it could not be read. */
export type TypedInputRead = { ok: true; value: unknown; where: string } | { ok: false; reason: string };

export interface TypedInputReader {
  readonly type: string;
  /** Where the value comes from, for messages: `msg.campaignId`, `event.profile.email`... */
  readonly label: string;
  /** Present when every message reads the same value (str, num, env, json). */
  readonly constant?: { value: unknown };
  /** Reads for one message; calls back at once unless Node-RED evaluates asynchronously. */
  read(msg: object, cb: (r: TypedInputRead) => void, record?: unknown, index?: number): void;
  /** The same read as a promise (never rejects). */
  readAsync(msg: object, record?: unknown, index?: number): Promise<TypedInputRead>;
}

/** Longest expression error carried into a reason. */
const MAX_ERROR_TEXT = 200;

function short(text: string): string {
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}… (${text.length} characters)` : text;
}

/** The message a record is read from: for an array payload, msg.payload is that record. */
function viewOf(msg: object, record: unknown): Record<string, unknown> {
  const m = msg as Record<string, unknown>;
  return record === undefined || m.payload === record ? m : { ...m, payload: record };
}

type ReadFn = TypedInputReader["read"];

function reader(type: string, label: string, read: ReadFn, constant?: { value: unknown }): TypedInputReader {
  return {
    type,
    label,
    ...(constant ? { constant } : {}),
    read,
    readAsync: (msg, record, index) => new Promise((resolve) => read(msg, resolve, record, index)),
  };
}

/**
 * Prepares the TypedInput `value` of `type` for `node`. Throws (at deploy) when the setting
 * cannot work: a bad path, expression or JSON text.
 */
export function typedInputReader(RED: NodeAPI, node: Node, value: string, type: string): TypedInputReader {
  if (type === "jsonata") {
    const expr = RED.util.prepareJSONataExpression(value, node);
    const where = `the expression ${value}`;
    return reader(type, where, (msg, cb, record) =>
      RED.util.evaluateJSONataExpression(expr, viewOf(msg, record) as never, (err, result) =>
        cb(err ? { ok: false, reason: `${where} failed: ${short(err.message)}` } : { ok: true, value: result, where }),
      ),
    );
  }
  if (type === "event") {
    const parts = value === "" ? [] : RED.util.normalisePropertyExpression(value);
    return reader(type, value ? `event.${value}` : "event", (msg, cb, record, index) => {
      const { root, label } = eventRoot(msg as { payload?: unknown; source?: unknown }, record, index);
      const r = readPath(root, parts, label);
      cb(r.ok ? { ok: true, value: r.value, where: value ? `${label}.${value}` : label } : r);
    });
  }
  if (type === "msg") {
    const label = `msg.${value}`;
    if (/\[\s*msg\b/.test(value)) {
      // A path with a nested msg reference (`payload[msg.key]`) is resolved per message.
      RED.util.normalisePropertyExpression(value);
      return reader(type, label, (msg, cb, record) => {
        try {
          cb({ ok: true, value: RED.util.getMessageProperty(viewOf(msg, record), value), where: label });
        } catch (err) {
          cb({ ok: false, reason: `${label} cannot be read: ${errorText(err)}` });
        }
      });
    }
    const parts = value === "" ? [] : RED.util.normalisePropertyExpression(value);
    return reader(type, label, (msg, cb, record) => {
      const r = readPath(viewOf(msg, record), parts, "msg");
      cb(r.ok ? { ok: true, value: r.value, where: label } : r);
    });
  }
  if (type === "flow" || type === "global") {
    const label = `${type}.${value}`;
    return reader(type, label, (msg, cb) =>
      RED.util.evaluateNodeProperty(value, type, node, msg as never, (err: Error | null, v: unknown) =>
        cb(
          err ? { ok: false, reason: `${label} cannot be read: ${err.message}` } : { ok: true, value: v, where: label },
        ),
      ),
    );
  }
  if (type === "json") {
    const parsed: unknown = JSON.parse(value);
    const label = "the node's setting";
    return reader(type, label, (_msg, cb) => cb({ ok: true, value: structuredClone(parsed), where: label }), {
      value: parsed,
    });
  }
  const constant: unknown =
    type === "env"
      ? RED.util.evaluateNodeProperty(value, "env", node, {} as never)
      : type === "num"
        ? Number(value)
        : value;
  const label = type === "env" ? `env ${value}` : "the node's setting";
  return reader(type, label, (_msg, cb) => cb({ ok: true, value: constant, where: label }), { value: constant });
}
