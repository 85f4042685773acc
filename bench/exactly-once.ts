/**
 * What exactly-once delivery costs: custom activities, campaign requests and form fills through
 * one client against the emulator, first without faults, then with 10 % of calls failing after
 * Marketo applied them (604, 502, 608, 611, 713 with --apply-before-failure). Per round: the
 * writes sent, the extra calls the questions cost (`usage().callsByOperation` entries named
 * `<write>:<question>`), what the questions found, and what Marketo stored (duplicates, lost).
 * The window is the bench's scaled one; limits are otherwise Marketo's.
 */
import { MarketoClient } from "../src/lib/marketo";
import { startEmulator } from "../src/emulator";
import type { TimeScale } from "./flows/common";

const ENGAGEMENT = 100001;
const CAMPAIGN = 2001;
const FORM = 3001;
const FAULT_CODES = ["604", "502", "608", "611", "713"];

export interface ExactlyOnceSizes {
  engagements: number;
  campaignRequests: number;
  formFills: number;
}

export interface ExactlyOnceRound {
  faultRate: number;
  faultsInjected: number;
  writes: number;
  extraCalls: number;
  checks: number;
  found: number;
  resent: number;
  unconfirmed: number;
  failed: number;
  stored: { activities: number; campaignRequests: number; formFills: number };
  duplicates: { activities: number; campaignRequests: number; formFills: number };
  seconds: number;
}

interface EmuState {
  leads: Array<{ id: number; email: string }>;
  activities: {
    activities: Array<{
      leadId: number;
      activityTypeId: number;
      activityDate: string;
      primaryAttributeValue?: string;
      primaryAttributeValueId?: number;
    }>;
  };
}

async function round(scale: TimeScale, sizes: ExactlyOnceSizes, faultRate: number): Promise<ExactlyOnceRound> {
  const emu = await startEmulator({
    latencyMs: scale.latencyMs,
    limits: { callsPerWindow: 100, windowMs: scale.windowMs, concurrency: 10 },
    faults: { applyBeforeFailure: true },
  });
  const client = new MarketoClient({
    endpoint: emu.url,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    windowMs: scale.windowMs,
    batchWindowMs: scale.batchWindowMs,
    retry: {
      maxAttempts: 8,
      baseDelayMs: Math.max(1, Math.round(1000 / scale.factor)),
      maxDelayMs: Math.max(10, Math.round(20_000 / scale.factor)),
    },
  });
  try {
    const nLeads = Math.max(sizes.campaignRequests, sizes.formFills, 1);
    const made = await client.syncLeads(Array.from({ length: nLeads }, (_, i) => ({ email: `once${i}@example.com` })));
    const ids = made.map((r) => r.id!).filter((id) => id !== undefined);
    const before = client.usage();
    emu.setFaults({ rate: faultRate, codes: FAULT_CODES });
    const t0 = Date.now();
    const since = t0 - 3_600_000;
    const results = await Promise.all([
      ...Array.from({ length: sizes.engagements }, (_, i) =>
        client.addCustomActivity({
          leadId: ids[i % ids.length],
          activityTypeId: ENGAGEMENT,
          activityDate: new Date(since + i * 1000).toISOString(),
          primaryAttributeValue: `1_s${i % 7}`,
          attributes: [{ apiName: "plays", value: i % 4 }],
        }),
      ),
      ...ids.slice(0, sizes.campaignRequests).map((id) => client.triggerCampaignFor(CAMPAIGN, id)),
      ...Array.from({ length: sizes.formFills }, (_, i) =>
        client.submitForm(FORM, { email: `once${i}@example.com`, firstName: `O${i}` }),
      ),
    ]);
    const seconds = (Date.now() - t0) / 1000;
    emu.setFaults({ rate: 0 });
    const after = client.usage();
    const stats = emu.stats();
    const delta = (k: string): number => (after.callsByOperation[k] ?? 0) - (before.callsByOperation[k] ?? 0);
    const extraCalls = Object.keys(after.callsByOperation)
      .filter((k) => k.includes(":"))
      .reduce((n, k) => n + delta(k), 0);
    const state = emu.state() as unknown as EmuState;
    const acts = state.activities.activities;
    const distinct = (xs: string[]): number => new Set(xs).size;
    const custom = acts.filter((a) => a.activityTypeId === ENGAGEMENT);
    const requests = acts.filter((a) => a.activityTypeId === 47 && a.primaryAttributeValueId === CAMPAIGN);
    const fills = acts.filter((a) => a.activityTypeId === 2 && a.primaryAttributeValueId === FORM);
    return {
      faultRate,
      faultsInjected: FAULT_CODES.reduce((n, k) => n + (stats.answersByCode[k] ?? 0), 0),
      writes: delta("addCustomActivities") + delta("triggerCampaign") + delta("submitForm"),
      extraCalls,
      checks: after.arrivalChecks.checks - before.arrivalChecks.checks,
      found: after.arrivalChecks.found - before.arrivalChecks.found,
      resent: after.arrivalChecks.resent - before.arrivalChecks.resent,
      unconfirmed: after.arrivalChecks.unconfirmed - before.arrivalChecks.unconfirmed,
      failed: results.filter((r) => !r.ok).length,
      stored: { activities: custom.length, campaignRequests: requests.length, formFills: fills.length },
      duplicates: {
        activities:
          custom.length - distinct(custom.map((a) => `${a.leadId}|${a.activityDate}|${a.primaryAttributeValue}`)),
        campaignRequests: requests.length - distinct(requests.map((a) => String(a.leadId))),
        formFills: fills.length - distinct(fills.map((a) => String(a.leadId))),
      },
      seconds,
    };
  } finally {
    await client.close();
    await emu.stop();
  }
}

/** The two rounds: no faults, then 10 % applied-then-failed faults. */
export async function exactlyOnce(
  scale: TimeScale,
  sizes: ExactlyOnceSizes,
): Promise<{ sizes: ExactlyOnceSizes; calm: ExactlyOnceRound; faults: ExactlyOnceRound }> {
  const calm = await round(scale, sizes, 0);
  const faults = await round(scale, sizes, 0.1);
  return { sizes, calm, faults };
}

/** The records of a run: 20,000 engagements as in the fault test; --quick a tenth. */
export function onceSizes(quick: boolean): ExactlyOnceSizes {
  return quick
    ? { engagements: 2000, campaignRequests: 200, formFills: 20 }
    : { engagements: 20_000, campaignRequests: 2000, formFills: 100 };
}
