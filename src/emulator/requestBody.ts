import type { IncomingMessage } from "node:http";

export interface RawBody {
  buf: Buffer;
  /** The body exceeded the limit; it was read to the end and discarded. */
  tooLarge: boolean;
}

/**
 * Reads the whole body, keeping at most `limit` bytes. An oversized body is still drained so
 * the client receives the 413 instead of a broken pipe.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<RawBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers["content-length"] ?? 0) > limit;
    let ended = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
      } else if (!tooLarge) {
        chunks.push(chunk);
      }
    });
    req.on("end", () => {
      ended = true;
      resolve({ buf: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge });
    });
    req.on("error", reject);
    req.on("close", () => {
      if (!ended) reject(new Error("request aborted"));
    });
  });
}

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const t = header.split(";")[0].trim().toLowerCase();
  return t === "" ? undefined : t;
}

/** Parses multipart/form-data with the platform's own parser (Node 20's fetch Request). */
export async function parseMultipart(buf: Buffer, contentType: string): Promise<FormData> {
  const request = new Request("http://emulator.invalid/", {
    method: "POST",
    headers: { "content-type": contentType },
    // A plain copy, not the Buffer: it satisfies both Node's and the DOM's BodyInit typings
    // (Node-RED's editor types bring the DOM ones into the build).
    body: new Uint8Array(buf),
  });
  return request.formData();
}

/** The token from `Authorization: Bearer <token>`, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
