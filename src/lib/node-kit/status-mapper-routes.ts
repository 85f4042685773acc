/**
 * status-mapper's editor helpers: the presets (so the dialog fills the table from the same data)
 * and the channel table an admin must build in Marketo, computed from the dialog's unsaved rows.
 */
import type { NodeAPI } from "node-red";
import { channelTable, channelText, presetRows, PRESET_NAMES } from "../flow/status-ladder";

export function registerStatusMapperRoutes(RED: NodeAPI): void {
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
}
