/** Where a node keeps its journal (src/lib/delivery/journal.ts). */
import * as path from "path";

/** Letters, digits and dots stay (and dashes, when `dash`); any other character becomes `_` and
 *  the hex of its UTF-8 bytes, so two different ids never share a file and none can climb out of
 *  the folder. The node id keeps no dash, so the last dash of the name always ends the kind. */
function fileNamePart(text: string, dash: boolean): string {
  let out = "";
  for (const ch of text) {
    if (/^[A-Za-z0-9.]$/.test(ch) || (dash && ch === "-")) out += ch;
    else out += `_${Buffer.from(ch, "utf8").toString("hex")}`;
  }
  return out;
}

/** `<userDir>/marketo-journal/<kind>-<nodeId>.journal`, or undefined when Node-RED has no userDir
 *  (the test helper), where nodes keep records in memory only. Node ids are made file-name safe. */
export function journalFile(settings: { userDir?: unknown }, kind: string, nodeId: string): string | undefined {
  const userDir = settings?.userDir;
  if (typeof userDir !== "string" || userDir === "") return undefined;
  return path.join(userDir, "marketo-journal", `${fileNamePart(kind, true)}-${fileNamePart(nodeId, false)}.journal`);
}
