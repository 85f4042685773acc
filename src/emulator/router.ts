import type { RouteDef } from "./types";

interface Compiled {
  route: RouteDef;
  regex: RegExp;
  names: string[];
}

export type RouteMatch =
  | { found: true; route: RouteDef; params: Record<string, string> }
  /** `pathKnown` tells 605 (wrong verb) from 610 (no such resource). */
  | { found: false; pathKnown: boolean };

/** Matches `:name` segments, including ones with a literal suffix such as `:id.json`. */
function compile(route: RouteDef): Compiled {
  const names: string[] = [];
  const source = route.pattern
    .split("/")
    .map((segment) => {
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)(.*)$/.exec(segment);
      if (!m) return escape(segment);
      names.push(m[1]);
      return `([^/]+?)${escape(m[2])}`;
    })
    .join("/");
  return { route, regex: new RegExp(`^${source}$`), names };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class Router {
  private readonly compiled: Compiled[];

  constructor(routes: RouteDef[]) {
    this.compiled = routes.map(compile);
  }

  match(method: string, path: string): RouteMatch {
    let pathKnown = false;
    for (const c of this.compiled) {
      const m = c.regex.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (c.route.method !== method) continue;
      const params: Record<string, string> = {};
      c.names.forEach((name, i) => {
        params[name] = safeDecode(m[i + 1]);
      });
      return { found: true, route: c.route, params };
    }
    return { found: false, pathKnown };
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
