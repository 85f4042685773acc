/**
 * Lead ids by lookup value, shared by the nodes of one marketo-config: marketo-lead learns the
 * id Marketo gave a lead, so marketo-program-status and marketo-custom-activity further down
 * the flow need no Get Leads call. Bounded; the oldest entries go first.
 */
export const DEFAULT_MAX_LEAD_IDS = 100_000;

export class LeadIdCache {
  private readonly ids = new Map<string, number>();

  constructor(private readonly max = DEFAULT_MAX_LEAD_IDS) {}

  /** Email addresses are case-insensitive in Marketo; other lookup fields are kept as given. */
  static key(lookupField: string, value: unknown): string | undefined {
    if (typeof value === "number" && Number.isFinite(value)) value = String(value);
    if (typeof value !== "string") return undefined;
    const v = value.trim();
    if (v === "") return undefined;
    return `${lookupField}|${lookupField === "email" ? v.toLowerCase() : v}`;
  }

  get(lookupField: string, value: unknown): number | undefined {
    const k = LeadIdCache.key(lookupField, value);
    return k === undefined ? undefined : this.ids.get(k);
  }

  set(lookupField: string, value: unknown, leadId: number): void {
    const k = LeadIdCache.key(lookupField, value);
    if (k === undefined || !Number.isInteger(leadId) || leadId <= 0) return;
    // Re-inserting moves the key to the end, so eviction drops the least recently learned.
    this.ids.delete(k);
    this.ids.set(k, leadId);
    while (this.ids.size > this.max) {
      const oldest = this.ids.keys().next().value as string;
      this.ids.delete(oldest);
    }
  }

  /** A lead id Marketo no longer knows (1004 Lead not found after a merge or delete). */
  forget(lookupField: string, value: unknown): void {
    const k = LeadIdCache.key(lookupField, value);
    if (k !== undefined) this.ids.delete(k);
  }

  get size(): number {
    return this.ids.size;
  }

  clear(): void {
    this.ids.clear();
  }
}
