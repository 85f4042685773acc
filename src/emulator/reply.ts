import type { ServerResponse } from "node:http";
import { envelopeErrorCodes, failure, finishEnvelope, isEnvelope, type Envelope, type Family } from "./envelope";
import type { EmulatorRuntime } from "./runtime";
import type { EmuResponse } from "./types";

const JSON_TYPE = "application/json;charset=UTF-8";

/**
 * Writes one answer and records it (stats per status and error code, one log line). Log lines
 * name the method, path and client id only: query strings can carry `access_token`.
 */
export class Reply {
  clientId?: string;
  private finished = false;

  constructor(
    private readonly rt: EmulatorRuntime,
    private readonly res: ServerResponse,
    private readonly family: Family,
    private readonly method: string,
    private readonly path: string,
    private readonly started = Date.now(),
  ) {}

  get closed(): boolean {
    return this.finished || this.res.destroyed || this.res.writableEnded;
  }

  /** A Marketo envelope error (HTTP 200). */
  error(code: string, message?: string): void {
    this.envelope(failure(code, message));
  }

  /** Sends an envelope with a fresh requestId; returns whether it reports success. */
  envelope(body: Envelope, status = 200): boolean {
    const out = finishEnvelope(body, this.rt.requestIds.next(this.rt.now()), this.family);
    const codes = envelopeErrorCodes(out);
    for (const c of codes) {
      this.rt.stats.errorCode(c);
      this.rt.usage.error(c);
    }
    this.write(status, JSON_TYPE, JSON.stringify(out), {}, codes[0]);
    return out.success;
  }

  /** Plain JSON (identity answers, inspection API). */
  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.write(status, JSON_TYPE, JSON.stringify(body), headers);
  }

  text(status: number, contentType: string, body: string | Buffer, code?: string): void {
    if (code) {
      this.rt.stats.errorCode(code);
      this.rt.usage.error(code);
    }
    this.write(status, contentType, body, {}, code);
  }

  /** What a handler returned; returns whether the call counts toward the limits. */
  handlerResponse(r: EmuResponse): boolean {
    const status = r.status ?? 200;
    if (isEnvelope(r.body)) {
      const success = this.envelope(r.body, status);
      return r.counted ?? success;
    }
    if (typeof r.body === "string" || Buffer.isBuffer(r.body)) {
      this.text(status, r.contentType ?? "text/plain;charset=UTF-8", r.body);
    } else {
      this.write(status, r.contentType ?? JSON_TYPE, JSON.stringify(r.body ?? null), {});
    }
    return r.counted ?? status < 400;
  }

  /** Drops the connection without answering (fault injection). */
  reset(): void {
    if (this.closed) return;
    this.finished = true;
    this.rt.stats.connectionResets += 1;
    this.res.socket?.destroy();
    this.logLine("reset");
  }

  private write(
    status: number,
    contentType: string,
    body: string | Buffer,
    headers: Record<string, string>,
    code?: string,
  ): void {
    if (this.closed) return;
    this.finished = true;
    this.rt.stats.httpStatus(status);
    this.res.writeHead(status, {
      "Content-Type": contentType,
      "Content-Length": String(Buffer.byteLength(body)),
      ...headers,
    });
    this.res.end(body);
    this.logLine(code ? `${status} ${code}` : String(status));
  }

  private logLine(outcome: string): void {
    const who = this.clientId ? ` client=${this.clientId}` : "";
    this.rt.log(`${this.method} ${this.path} -> ${outcome} ${Date.now() - this.started}ms${who}`);
  }
}
