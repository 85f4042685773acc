import { chicagoDay } from "../lib/marketo/time";
import type { UsageDay } from "./types";

const DAYS_KEPT = 7;

/**
 * Calls per API user and error answers per code, by Marketo quota day, for the usage routes.
 * Kept apart from the inspection stats because Marketo's own figures are per day and per user,
 * and survive a stats reset.
 */
export class UsageLog {
  private days: UsageDay[] = [];
  /**
   * Quota days started early by rollover() (the inspection API's "midnight now"): each one moves
   * the usage calendar a day ahead, so counts start again on the next date as they do at 00:00
   * America/Chicago.
   */
  private shift = 0;

  constructor(private readonly now: () => number) {}

  /** Ends the current usage day now; the next call counts on the following date. */
  rollover(): void {
    this.shift += 1;
    this.today();
  }

  /** The date usage is counted on now, `YYYY-MM-DD`. */
  date(): string {
    const day = chicagoDay(this.now());
    if (this.shift === 0) return day;
    const [y, m, d] = day.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d + this.shift)).toISOString().slice(0, 10);
  }

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
    this.shift = 0;
  }

  private today(): UsageDay {
    const date = this.date();
    if (this.days[0]?.date !== date) {
      this.days.unshift({ date, calls: {}, errors: {} });
      this.days.length = Math.min(this.days.length, DAYS_KEPT);
    }
    return this.days[0];
  }
}
