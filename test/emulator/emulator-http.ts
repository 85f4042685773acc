/** Small HTTP helpers for the emulator tests (plain fetch, so the tests see raw answers). */
import type { EmulatorHandle } from "../../nodes/emulator";

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  // `any` on purpose: tests assert deep into Marketo-shaped JSON with should.
  json: any;
}

export async function call(
  emu: EmulatorHandle,
  path: string,
  init: {
    method?: string;
    token?: string;
    json?: unknown;
    body?: string | FormData;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  let body = init.body;
  if (init.json !== undefined) {
    headers["Content-Type"] ??= "application/json";
    body = JSON.stringify(init.json);
  }
  const res = await fetch(`${emu.url}${path}`, { method: init.method ?? (body ? "POST" : "GET"), headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export async function identity(
  emu: EmulatorHandle,
  clientId = emu.clientId,
  secret = emu.clientSecret,
): Promise<Answer> {
  const q = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret });
  return call(emu, `/identity/oauth/token?${q}`);
}

export async function token(emu: EmulatorHandle, clientId?: string, secret?: string): Promise<string> {
  const a = await identity(emu, clientId, secret);
  if (a.status !== 200) throw new Error(`identity answered ${a.status}: ${a.text}`);
  return a.json.access_token as string;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A cheap counted read. */
export function describeCall(emu: EmulatorHandle, tok: string): Promise<Answer> {
  return call(emu, "/rest/v1/leads/describe.json", { token: tok });
}
