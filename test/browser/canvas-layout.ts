/**
 * Where the editor drew each node of the open tab and its status, and what of that a user cannot
 * read: nodes touching each other, a status running into another node or status.
 */
import type { Page } from "playwright-core";

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface NodeBox {
  id: string;
  type: string;
  label: string;
  node: Rect;
  status?: Rect & { text: string };
}

/** The boxes of every node drawn on the canvas, in page pixels. */
export async function canvasBoxes(page: Page): Promise<NodeBox[]> {
  return page.evaluate(() => {
    const RED = (window as any).RED;
    const out: NodeBox[] = [];
    document.querySelectorAll<SVGGElement>("#red-ui-workspace-chart g.red-ui-flow-node-group").forEach((g) => {
      const n = RED.nodes.node(g.id);
      if (!n) return;
      const r = (g.querySelector("rect.red-ui-flow-node") as SVGRectElement).getBoundingClientRect();
      const label = (g.querySelector(".red-ui-flow-node-label") as SVGTextElement | null)?.textContent ?? "";
      const b: NodeBox = { id: n.id, type: n.type, label, node: { x: r.left, y: r.top, w: r.width, h: r.height } };
      const sg = g.querySelector<SVGGElement>("g.red-ui-flow-node-status-group");
      const text = g.querySelector<SVGTextElement>(".red-ui-flow-node-status-label");
      if (sg && text && sg.style.display !== "none" && (text.textContent ?? "").trim()) {
        const s = sg.getBoundingClientRect();
        b.status = { x: s.left, y: s.top, w: s.width, h: s.height, text: text.textContent ?? "" };
      }
      out.push(b);
    });
    return out;
  });
}

const GAP = 4;
const touches = (a: Rect, b: Rect): boolean =>
  a.x < b.x + b.w + GAP && b.x < a.x + a.w + GAP && a.y < b.y + b.h + GAP && b.y < a.y + a.h + GAP;

/** Each place where two nodes touch or a status runs into a node or another status. */
export function layoutProblems(boxes: NodeBox[]): string[] {
  const name = (b: NodeBox) => `${b.type} "${b.label || b.id}"`;
  const problems: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = 0; j < boxes.length; j++) {
      if (i === j) continue;
      const a = boxes[i];
      const b = boxes[j];
      if (i < j && touches(a.node, b.node)) problems.push(`${name(a)} touches ${name(b)}`);
      if (a.status && touches(a.status, b.node))
        problems.push(`${name(a)}'s status "${a.status.text}" runs into ${name(b)}`);
      if (i < j && a.status && b.status && touches(a.status, b.status))
        problems.push(`the statuses of ${name(a)} and ${name(b)} overlap`);
    }
  }
  return problems;
}
