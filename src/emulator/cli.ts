#!/usr/bin/env node
import { parseArgs } from "node:util";
import { startEmulator, type EmulatorOptions } from "./index";
import { errorText } from "../lib/node-kit/guards";

const USAGE = `Usage: marketo-emulator [options]

Runs a local Marketo REST API emulator (identity, lead database, asset and bulk APIs).

Options:
  --port <n>                 port to listen on (default 4010; 0 = any free port)
  --host <addr>              interface to bind (default 127.0.0.1)
  --client-id <id>           API client id (default emulator-client)
  --client-secret <secret>   API client secret (default emulator-secret)
  --munchkin-id <id>         Munchkin id (default 123-ABC-456)
  --calls-per-window <n>     calls per rolling window before 606 (default 100)
  --window-ms <ms>           rolling window length (default 20000)
  --concurrency <n>          calls in flight before 615 (default 10)
  --daily-quota <n>          calls per day before 607 (default 50000)
  --max-body-bytes <n>       largest REST body before HTTP 413 (default 1048576)
  --max-bulk-body-bytes <n>  largest bulk upload before HTTP 413 (default 10485760)
  --max-url-bytes <n>        longest URL before HTTP 414 (default 8192)
  --max-batch <n>            records per call before 1003 (default 300)
  --imports-running <n>      bulk import jobs processing at once (default 2)
  --imports-queued <n>       bulk import jobs queued before 1016 (default 10)
  --max-members-queried <n>  program members one member query may match before 1003 (default 100000)
  --token-ttl <seconds>      access token lifetime (default 3600)
  --latency-ms <ms>          latency added to every API call (default 0)
  --latency-jitter-ms <ms>   random extra latency up to this (default 0)
  --fault-rate <0..1>        probability of an injected fault (default 0)
  --fault-codes <list>       codes to inject, e.g. 502,604,608,611,713,500
  --reset-rate <0..1>        probability of a connection reset (default 0)
  --apply-before-failure     writes apply before an injected failure
  --import-delay-ms <ms>     bulk import step duration (default 300)
  --no-seed                  start with empty data (no demo program, leads, ...)
  --no-query-token           refuse the legacy access_token query/form parameter
  --omit-unset-fields        leave unset lead fields out of answers (default: null)
  --missing-linked-lead-code <1004|1003>
                             reason for a custom object linked to no lead (default 1004)
  --quiet                    do not log one line per request
  --help                     show this help
`;

class UsageError extends Error {}

function int(name: string, raw: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer between ${min} and ${max}, got '${raw}'`);
  }
  return n;
}

function probability(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !(n >= 0 && n <= 1))
    throw new UsageError(`--${name} must be a number between 0 and 1, got '${raw}'`);
  return n;
}

function codes(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = raw
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  if (list.length === 0 || !list.every((c) => /^\d{3,4}$/.test(c))) {
    throw new UsageError(`--fault-codes must be a comma-separated list of codes such as 502,604, got '${raw}'`);
  }
  return list;
}

function parse(argv: string[]): { options: EmulatorOptions; quiet: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "client-id": { type: "string" },
        "client-secret": { type: "string" },
        "munchkin-id": { type: "string" },
        "calls-per-window": { type: "string" },
        "window-ms": { type: "string" },
        concurrency: { type: "string" },
        "daily-quota": { type: "string" },
        "max-body-bytes": { type: "string" },
        "max-bulk-body-bytes": { type: "string" },
        "max-url-bytes": { type: "string" },
        "max-batch": { type: "string" },
        "imports-running": { type: "string" },
        "imports-queued": { type: "string" },
        "max-members-queried": { type: "string" },
        "token-ttl": { type: "string" },
        "latency-ms": { type: "string" },
        "latency-jitter-ms": { type: "string" },
        "fault-rate": { type: "string" },
        "fault-codes": { type: "string" },
        "reset-rate": { type: "string" },
        "apply-before-failure": { type: "boolean" },
        "import-delay-ms": { type: "string" },
        "no-seed": { type: "boolean" },
        "no-query-token": { type: "boolean" },
        "omit-unset-fields": { type: "boolean" },
        "missing-linked-lead-code": { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new UsageError(errorText(err));
  }
  const limits = Object.fromEntries(
    Object.entries({
      callsPerWindow: int("calls-per-window", values["calls-per-window"], 1),
      windowMs: int("window-ms", values["window-ms"], 1),
      concurrency: int("concurrency", values.concurrency, 1),
      dailyQuota: int("daily-quota", values["daily-quota"], 0),
      // Every limit the emulator enforces has a flag, so a test or a user can set each from the shell.
      maxBodyBytes: int("max-body-bytes", values["max-body-bytes"], 1),
      maxBulkBodyBytes: int("max-bulk-body-bytes", values["max-bulk-body-bytes"], 1),
      maxUrlBytes: int("max-url-bytes", values["max-url-bytes"], 1),
      maxBatch: int("max-batch", values["max-batch"], 1),
      importsRunning: int("imports-running", values["imports-running"], 1),
      importsQueued: int("imports-queued", values["imports-queued"], 1),
      maxMembersQueried: int("max-members-queried", values["max-members-queried"], 1),
    }).filter(([, v]) => v !== undefined),
  );
  const faults = Object.fromEntries(
    Object.entries({
      rate: probability("fault-rate", values["fault-rate"]),
      codes: codes(values["fault-codes"]),
      resetRate: probability("reset-rate", values["reset-rate"]),
      applyBeforeFailure: values["apply-before-failure"],
    }).filter(([, v]) => v !== undefined),
  );
  const missingLinkedLead = values["missing-linked-lead-code"];
  if (missingLinkedLead !== undefined && missingLinkedLead !== "1004" && missingLinkedLead !== "1003") {
    throw new UsageError(`--missing-linked-lead-code must be 1004 or 1003, got '${missingLinkedLead}'`);
  }
  const quiet = values.quiet === true;
  const options: EmulatorOptions = {
    port: int("port", values.port, 0, 65535) ?? 4010,
    host: values.host,
    clientId: values["client-id"],
    clientSecret: values["client-secret"],
    munchkinId: values["munchkin-id"],
    limits,
    tokenTtlSeconds: int("token-ttl", values["token-ttl"], 1),
    latencyMs: int("latency-ms", values["latency-ms"]),
    latencyJitterMs: int("latency-jitter-ms", values["latency-jitter-ms"]),
    faults,
    allowQueryToken: values["no-query-token"] !== true,
    seed: { enabled: values["no-seed"] !== true },
    importDelayMs: int("import-delay-ms", values["import-delay-ms"]),
    answers: {
      unsetLeadFields: values["omit-unset-fields"] === true ? "omit" : undefined,
      missingLinkedLead,
    },
    log: quiet ? undefined : (line) => console.log(`${new Date().toISOString()} ${line}`),
  };
  return { options, quiet, help: values.help === true };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`marketo-emulator: ${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    console.log(USAGE);
    return;
  }
  const emu = await startEmulator(parsed.options);
  console.log(`Marketo emulator listening on ${emu.url}`);
  console.log(`  REST endpoint:  ${emu.url}/rest`);
  console.log(`  Identity:       ${emu.url}/identity`);
  console.log(`  Munchkin id:    ${emu.munchkinId}`);
  console.log(`  Client id:      ${emu.clientId}`);
  console.log(`  Client secret:  ${emu.clientSecret}`);
  console.log(`  Inspection:     ${emu.url}/_emulator/stats (also /state, /faults, /limits)`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    if (!parsed.quiet) console.log(`${signal}: stopping`);
    emu.stop().then(
      () => {
        process.exitCode = 0;
      },
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(`marketo-emulator: ${errorText(err)}`);
  process.exitCode = 1;
});
