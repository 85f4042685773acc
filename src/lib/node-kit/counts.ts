/** Status text on the canvas must stay short (< 20 chars or so): "passed 1,204 · rejected 37". */
export function countsText(parts: Array<[label: string, count: number]>): string {
  return parts
    .filter(([, n], i) => i === 0 || n > 0)
    .map(([label, n]) => `${label} ${n.toLocaleString("en-US")}`)
    .join(" · ");
}
