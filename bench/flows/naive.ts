/**
 * What a user wires without this package: core nodes only. One http request fetches a token;
 * then each record is one Marketo call per step (Sync Leads, then the program status, and for
 * engagement one Add Custom Activities call), sent as soon as it arrives. Answers are checked
 * the way a careful user would (HTTP status, `success`, the record's own status), and a
 * record whose call failed is reported, not retried: no limiter, no batching, no backoff.
 */
import { fn, sink, tab, TAB, type BenchFlow, type FlowNode } from "./common";

/** The Kaltura custom activity the emulator seeds (a user copies the id from Marketo's admin). */
const ACTIVITY_TYPE_ID = 100001;
const PROGRAM_ID = 1001;

function httpRequest(id: string, wires: string[][]): FlowNode {
  // The editor's defaults, method and URL from the message.
  return {
    id,
    type: "http request",
    z: TAB,
    name: `${id} (http)`,
    method: "use",
    ret: "obj",
    paytoqs: "ignore",
    url: "",
    tls: "",
    persist: false,
    proxy: "",
    insecureHTTPParser: false,
    authType: "",
    senderr: false,
    headers: [],
    wires,
  };
}

/** The answer check shared by every step: a failed record gets `msg.failed = "<step>:<code>"`. */
const CHECK = (step: string): string => `
const r = msg.payload;
if (msg.statusCode !== 200 || r === null || typeof r !== "object") {
  msg.failed = "${step}:HTTP " + msg.statusCode;
  return [null, msg];
}
if (r.success !== true) {
  msg.failed = "${step}:" + (r.errors && r.errors[0] ? r.errors[0].code : "?");
  return [null, msg];
}
const row = r.result && r.result[0];
if (!row || row.status === "skipped") {
  msg.failed = "${step}:" + (row && row.reasons && row.reasons[0] ? row.reasons[0].code : "no result");
  return [null, msg];
}`;

export function naiveFlow(url: string): BenchFlow {
  const base = JSON.stringify(url);
  return {
    nodes: [
      tab("naive"),
      // --- the token, once ---
      fn(
        "token",
        `msg.method = "POST";
msg.url = ${base} + "/identity/oauth/token";
msg.headers = { "content-type": "application/x-www-form-urlencoded" };
msg.payload = "grant_type=client_credentials&client_id=" + encodeURIComponent(env.get("MARKETO_CLIENT_ID")) +
  "&client_secret=" + encodeURIComponent(env.get("MARKETO_CLIENT_SECRET"));
return msg;`,
        1,
        [["token-http"]],
      ),
      httpRequest("token-http", [["token-keep"]]),
      fn(
        "token-keep",
        `if (msg.statusCode !== 200 || !msg.payload || !msg.payload.access_token) { msg.failed = "token:HTTP " + msg.statusCode; return [null, msg]; }
flow.set("token", msg.payload.access_token);
msg.payload = "token kept";
return [msg, null];`,
        2,
        [["token-ok"], ["token-failed"]],
      ),
      // --- registrations: one Sync Leads call, then one program status call, per record ---
      fn(
        "reg",
        `msg.method = "POST";
msg.url = ${base} + "/rest/v1/leads.json";
msg.headers = { authorization: "Bearer " + flow.get("token"), "content-type": "application/json" };
msg.payload = { action: "createOrUpdate", lookupField: "email", input: [msg.payload] };
return msg;`,
        1,
        [["reg-http"]],
      ),
      httpRequest("reg-http", [["reg-check"]]),
      fn(
        "reg-check",
        `${CHECK("lead")}
let ids = flow.get("leadIds");
if (!ids) { ids = new Map(); flow.set("leadIds", ids); }
ids.set(msg.source.profile.email, row.id);
msg.url = ${base} + "/rest/v1/programs/${PROGRAM_ID}/members/status.json";
// msg.headers now holds the answer's headers: the next request needs its own.
msg.headers = { authorization: "Bearer " + flow.get("token"), "content-type": "application/json" };
msg.payload = { statusName: msg.marketo.programStatus.name, input: [{ leadId: row.id }] };
return [msg, null];`,
        2,
        [["status-http"], ["reg-failed"]],
      ),
      httpRequest("status-http", [["status-check"]]),
      fn("status-check", `${CHECK("status")}\nreturn [msg, null];`, 2, [["reg-ok"], ["reg-failed"]]),
      // --- engagement: one Add Custom Activities call per record, the lead id from the registration ---
      fn(
        "eng",
        `const ids = flow.get("leadIds");
const leadId = ids && ids.get(msg.payload.profile.email);
if (!leadId) { msg.failed = "activity:no lead id"; return [null, msg]; }
const e = msg.payload.engagement;
const attributes = [];
for (const k of Object.keys(e)) if (k !== "entry_id") attributes.push({ apiName: k, value: e[k] });
msg.method = "POST";
msg.url = ${base} + "/rest/v1/activities/external.json";
msg.headers = { authorization: "Bearer " + flow.get("token"), "content-type": "application/json" };
msg.payload = { input: [{ leadId, activityDate: new Date().toISOString(), activityTypeId: ${ACTIVITY_TYPE_ID}, primaryAttributeValue: e.entry_id, attributes }] };
return [msg, null];`,
        2,
        [["eng-http"], ["eng-failed"]],
      ),
      httpRequest("eng-http", [["eng-check"]]),
      fn("eng-check", `${CHECK("activity")}\nreturn [msg, null];`, 2, [["eng-ok"], ["eng-failed"]]),
      sink("token-ok"),
      sink("token-failed"),
      sink("reg-ok"),
      sink("reg-failed"),
      sink("eng-ok"),
      sink("eng-failed"),
    ],
    sinks: {
      "token-ok": {},
      "token-failed": { failures: true },
      "reg-ok": {},
      "reg-failed": { failures: true },
      "eng-ok": {},
      "eng-failed": { failures: true },
    },
  };
}
