/**
 * Pieces every benchmark flow shares: the node shape Node-RED stores, the editor's defaults for
 * the package's nodes, the sinks answers are counted on, and the time scale.
 */
import { editorDefaults } from "../../test/helpers/editor-defaults";

export interface FlowNode {
  id: string;
  type: string;
  [key: string]: unknown;
}

/** A flow, where to put messages in, and which nodes count the answers. */
export interface BenchFlow {
  nodes: FlowNode[];
  /** Sink ids → what the worker records for them. */
  sinks: Record<string, { times?: boolean; failures?: boolean }>;
}

/**
 * Marketo's clock divided by `factor`: its 20 s window, the emulator's latency, the client's
 * batch window and bulk polling, the emulator's bulk import steps all shrink together, so the
 * scaled run is the real one sped up. Only CPU time does not shrink (see bench/README.md).
 */
export interface TimeScale {
  factor: number;
  windowMs: number;
  latencyMs: number;
  batchWindowMs: number;
  bulkPollIntervalMs: number;
  importDelayMs: number;
}

export function timeScale(factor: number): TimeScale {
  const s = (ms: number): number => Math.max(1, Math.round(ms / factor));
  return {
    factor,
    windowMs: s(20_000),
    latencyMs: s(200),
    batchWindowMs: s(1000),
    bulkPollIntervalMs: s(5000),
    // The emulator's own default per import step; Marketo gives no figure to scale from.
    importDelayMs: s(300),
  };
}

export const TAB = "bench";

export function tab(label: string): FlowNode {
  return { id: TAB, type: "tab", label };
}

/** A package node exactly as the editor creates it, plus what the benchmark sets. */
export function packageNode(
  type: string,
  id: string,
  wires: string[][],
  extra: Record<string, unknown> = {},
): FlowNode {
  return { ...editorDefaults(type), id, type, z: TAB, wires, ...extra };
}

/** Where answers are counted: a disabled debug node does nothing with a message, cheaply. */
export function sink(id: string): FlowNode {
  return {
    id,
    type: "debug",
    z: TAB,
    name: `count ${id}`,
    active: false,
    tosidebar: false,
    console: false,
    tostatus: false,
    complete: "false",
    targetType: "msg",
    wires: [],
  };
}

export function fn(id: string, func: string, outputs: number, wires: string[][], name = `${id} (function)`): FlowNode {
  return {
    id,
    type: "function",
    z: TAB,
    name,
    func,
    outputs,
    timeout: 0,
    noerr: 0,
    initialize: "",
    finalize: "",
    libs: [],
    wires,
  };
}

/**
 * Node-RED takes any property value equal to a node id for a reference to that (config) node,
 * and refuses to start a flow whose references loop; names must never equal an id.
 */
export function checkNoIdValues(nodes: FlowNode[]): void {
  const ids = new Set(nodes.map((n) => n.id));
  for (const n of nodes) {
    for (const [k, v] of Object.entries(n)) {
      if (k !== "id" && k !== "z" && k !== "wires" && k !== "marketo" && typeof v === "string" && ids.has(v)) {
        throw new Error(`flow node ${n.id}: property ${k} equals the node id ${v}`);
      }
    }
  }
}
