import { chicagoDay } from "../lib/marketo/time";
import type { UsageDay } from "./types";

const DAYS_KEPT = 7;

/**
 * Calls per API user and error answers per code, by Marketo quota day, for the usage routes
 * (reference §6.12). Kept apart from the inspection stats because Marketo's own figures are
 * per day and per user, and survive a stats reset.
 */
export class UsageLog {
  private days: UsageDay[] = [];

  constructor(private readonly now: () => number) {}

  call(clientId: string): void {
    const day = this.today();
    day.calls[clientId] = (day.calls[clientId] ?? 0) + 1;
  }

  error(code: string): void {
    const day = this.today();
    day.errors[code] = (day.errors[code] ?? 0) + 1;
  }

  /** Newest day first. */
  list(): UsageDay[] {
    return this.days.map((d) => ({ date: d.date, calls: { ...d.calls }, errors: { ...d.errors } }));
  }

  reset(): void {
    this.days = [];
  }

  private today(): UsageDay {
    const date = chicagoDay(this.now());
    if (this.days[0]?.date !== date) {
      this.days.unshift({ date, calls: {}, errors: {} });
      this.days.length = Math.min(this.days.length, DAYS_KEPT);
    }
    return this.days[0];
  }
}
