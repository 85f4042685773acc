/**
 * The package's Marketo nodes as a user wires them: one marketo-config (credentials from the
 * environment, as in a headless install), each node from its editor defaults.
 */
import { packageNode, sink, tab, type BenchFlow, type FlowNode, type TimeScale } from "./common";

export const CONFIG_ID = "cfg";

export function configNode(url: string, scale: TimeScale, extra: Record<string, unknown> = {}): FlowNode {
  return {
    ...packageNode("marketo-config", CONFIG_ID, [], { name: "emulator", endpoint: url, credentialSource: "env" }),
    // Hidden settings (not in the dialog) that scale Marketo's clock with the emulator's.
    windowMs: scale.windowMs,
    batchWindowMs: scale.batchWindowMs,
    bulkPollIntervalMs: scale.bulkPollIntervalMs,
    ...extra,
  };
}

/**
 * Registrations: marketo-lead → marketo-program-status (program 1001, the status status-mapper
 * chose); engagement: marketo-custom-activity on the platform's event. Failures of either
 * registration step land on one sink.
 */
export function efficiencyFlow(url: string, scale: TimeScale, leadExtra: Record<string, unknown> = {}): BenchFlow {
  return {
    nodes: [
      tab("efficiency"),
      configNode(url, scale),
      packageNode("marketo-lead", "n-lead", [["n-status"], ["reg-failed"]], { marketo: CONFIG_ID, ...leadExtra }),
      packageNode("marketo-program-status", "n-status", [["reg-ok"], ["reg-failed"]], {
        marketo: CONFIG_ID,
        program: "1001",
        programType: "num",
      }),
      packageNode("marketo-custom-activity", "n-activity", [["eng-ok"], ["eng-failed"]], { marketo: CONFIG_ID }),
      sink("reg-ok"),
      sink("reg-failed"),
      sink("eng-ok"),
      sink("eng-failed"),
    ],
    sinks: { "reg-ok": {}, "reg-failed": { failures: true }, "eng-ok": {}, "eng-failed": { failures: true } },
  };
}

/** marketo-lead alone: the throughput and bulk runs. `bulkThreshold: 0` keeps every record on Sync Leads. */
export function leadFlow(url: string, scale: TimeScale, leadExtra: Record<string, unknown>): BenchFlow {
  return {
    nodes: [
      tab("leads"),
      configNode(url, scale),
      packageNode("marketo-lead", "n-lead", [["lead-ok"], ["lead-failed"]], { marketo: CONFIG_ID, ...leadExtra }),
      sink("lead-ok"),
      sink("lead-failed"),
    ],
    sinks: { "lead-ok": { times: true }, "lead-failed": { times: true, failures: true } },
  };
}
