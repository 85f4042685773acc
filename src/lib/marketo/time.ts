/**
 * Marketo's daily quota resets at 00:00 US Central. "Central" moves between CST (-6) and
 * CDT (-5), so the reset instant is computed from the IANA zone, never from a fixed offset.
 */
const ZONE = "America/Chicago";

const partsFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: ZONE,
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallClock(at: number): WallClock {
  const get = (type: string): number => {
    const part = partsFormat.formatToParts(new Date(at)).find((p) => p.type === type);
    return part ? Number(part.value) : 0;
  };
  return {
    year: get("year"),
    month: get("month"),
    day: get("day"),
    hour: get("hour"),
    minute: get("minute"),
    second: get("second"),
  };
}

/** Milliseconds Chicago's wall clock is ahead of UTC at `at` (negative: -5 h or -6 h). */
function offsetAt(at: number): number {
  const w = wallClock(at);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

/** The instant of the next 00:00 in Chicago strictly after `now`. */
export function nextChicagoMidnight(now: Date | number = Date.now()): Date {
  const at = typeof now === "number" ? now : now.getTime();
  const today = wallClock(at);
  // Date.UTC normalises day overflow (Jan 31 + 1 = Feb 1).
  const wallMidnight = Date.UTC(today.year, today.month - 1, today.day + 1, 0, 0, 0);
  // Two passes: the offset at the guess can differ from the offset now across a DST change.
  let guess = wallMidnight - offsetAt(at);
  guess = wallMidnight - offsetAt(guess);
  return new Date(guess);
}

/** `YYYY-MM-DD` of the Chicago calendar day `now` falls in (the quota day). */
export function chicagoDay(now: Date | number = Date.now()): string {
  const w = wallClock(typeof now === "number" ? now : now.getTime());
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${w.year}-${pad(w.month)}-${pad(w.day)}`;
}
