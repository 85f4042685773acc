/**
 * The property values a new node gets when dropped on the canvas: the `value` of each entry of
 * the `defaults` object its hand-written HTML passes to RED.nodes.registerType. The editor script
 * runs in a sandbox with the few editor APIs a definition touches at load time stubbed.
 */
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";

export interface Definition {
  defaults: Record<
    string,
    {
      value: unknown;
      required?: boolean;
      type?: string;
      validate?: (this: unknown, v: unknown, opt?: unknown) => unknown;
    }
  >;
  credentials?: Record<
    string,
    { type: string; required?: boolean; validate?: (this: unknown, v: unknown, opt?: unknown) => unknown }
  >;
  [key: string]: unknown;
}

/** The definition the node's HTML registers, as the editor receives it. */
export function editorDefinition(type: string): Definition {
  const html = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", `${type}.html`), "utf8");
  const scripts = [...html.matchAll(/<script[^>]*type=["']text\/javascript["'][^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) => m[1],
  );
  const registered: Record<string, Definition> = {};
  const passThrough = () => () => true;
  const RED = {
    nodes: { registerType: (t: string, def: Definition) => (registered[t] = def) },
    validators: { number: passThrough, regex: passThrough, typedInput: passThrough },
    events: { on: () => undefined },
    _: (key: string) => key,
  };
  const context = vm.createContext({ RED, $: () => ({ length: 0 }), console });
  for (const code of scripts) vm.runInContext(code, context);
  const def = registered[type];
  if (!def) throw new Error(`${type}.html registers no ${type}`);
  return def;
}

export function editorDefaults(type: string): Record<string, unknown> {
  const def = editorDefinition(type);
  // A fresh copy, as the editor clones default values into each new node.
  return JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(def.defaults).map(([k, d]) => [k, d.value]))));
}
