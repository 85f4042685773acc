import { MarketoError } from "./errors";

export interface NormalisedEndpoint {
  /** `https://123-ABC-456.mktorest.com` — no path, no trailing slash. */
  origin: string;
  /** Which of Marketo's two Web Services URLs the admin pasted, if any. */
  pastedSuffix?: "/rest" | "/identity";
}

const WHAT_TO_PASTE =
  "Paste the REST API Endpoint from Marketo Admin > Integration > Web Services " +
  "(e.g. https://123-ABC-456.mktorest.com/rest), its Identity URL, or just the origin.";

function invalid(detail: string): MarketoError {
  return new MarketoError({
    code: "INVALID_ENDPOINT",
    message: `Invalid Marketo endpoint: ${detail}. ${WHAT_TO_PASTE}`,
    category: "validation",
    action: "permanent",
    retryable: false,
  });
}

/** Accepts what an admin copies from Marketo and reduces it to the origin paths hang off. */
export function normaliseEndpoint(input: unknown): NormalisedEndpoint {
  if (typeof input !== "string" || input.trim() === "") throw invalid("it is empty");
  const text = input.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`"${text}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalid(`"${url.protocol}" is not http(s)`);
  }
  if (url.username || url.password) throw invalid("it must not contain a user name or password");
  if (url.search || text.includes("?")) throw invalid("it must not have a query string");
  if (url.hash || text.includes("#")) throw invalid("it must not have a #fragment");
  // URL already lower-cases scheme and host; only the path keeps the admin's casing.
  const path = url.pathname.replace(/\/+$/, "").toLowerCase();
  const origin = url.origin;
  if (path === "") return { origin };
  if (path === "/rest" || path === "/identity") return { origin, pastedSuffix: path };
  throw invalid(`unexpected path "${url.pathname}"`);
}

/** Joins an origin and an absolute API path without ever producing `//` (Adobe is rejecting those). */
export function apiUrl(origin: string, path: string): string {
  const cleanOrigin = origin.replace(/\/+$/, "");
  const cleanPath = "/" + path.replace(/^\/+/, "").replace(/\/{2,}/g, "/");
  return cleanOrigin + cleanPath;
}
