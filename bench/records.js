"use strict";
/**
 * The benchmark's messages, made the same way in every process from (kind, index), so the
 * package's flow and the naive flow see identical records without shipping them over IPC.
 * Plain JavaScript: the Node-RED worker loads it without a TypeScript loader in its RSS.
 */

const FIRST = ["ada", "GRACE", "Alan", "katherine", "Edsger", "barbara", "Tim", "radia"];
const LAST = ["lovelace", "HOPPER", "Turing", "johnson", "Dijkstra", "liskov", "Berners-Lee", "perlman"];
/** Kaltura statuses in the order an attendee usually meets them (status-mapper's preset). */
const LADDER = [
  "Invited by team member",
  "Registered",
  "Confirmed email",
  "Registered no confirmation required",
  "Pre-event visit",
  "During-event visit",
];

function email(i, run) {
  return `attendee${i}${run ? `.r${run}` : ""}@example.com`;
}

/** A registration as it leaves field-mapper and status-mapper: the lead record, the event in msg.source. */
function registration(i) {
  const address = email(i);
  return {
    topic: "registration.created",
    payload: { email: address, firstName: `First${i}`, lastName: `Last${i}`, company: `Company ${i % 97}` },
    source: {
      event: { id: 8801, code: "KVS26", name: "Kaltura Virtual Summit", test: false },
      profile: { email: address },
      registration: { code: `R-${i}`, status: "Registered", test: false },
    },
    marketo: { programStatus: { name: "Registered", step: 30, success: true, source: "Registered" } },
  };
}

/** Session engagement as the platform sends it: the custom activity node reads the event itself. */
function engagement(i) {
  return {
    topic: "session.engagement",
    payload: {
      event: { id: 8801, code: "KVS26", name: "Kaltura Virtual Summit", test: false },
      profile: { email: email(i) },
      session: { id: "s-42", name: "Opening keynote" },
      engagement: {
        entry_id: "1_keynote",
        entry_name: "Opening keynote",
        user: `user${i}`,
        plays: i % 5,
        vod_minutes_viewed: 0,
        live_minutes_viewed: (i % 60) + 0.5,
        total_vod_completion_rate: 0,
        clap_clicked_count: i % 3,
      },
    },
  };
}

/** A lead record alone (the throughput and bulk runs). */
function lead(i) {
  return { payload: { email: email(i), firstName: `First${i}`, lastName: `Last${i}`, company: `Company ${i % 97}` } };
}

/**
 * A raw platform event for the flow-shaping chain. Out of every 20: 16 live registrations
 * (statuses along the ladder, some going backwards for the same attendee), 2 status-change
 * events (not a source the defaults take), 1 test registration, 1 with an unusable email.
 * `run` keeps attendees of different rounds apart, so status memory starts empty each round.
 */
function platformEvent(i, run) {
  const k = i % 20;
  const person = Math.floor(i / 3); // three events per attendee: a status ladder to climb (or not)
  const status = LADDER[(person + (i % 3) * 2) % LADDER.length];
  const test = k === 18;
  return {
    topic:
      k === 16 || k === 17 ? "registration.status_changed" : i % 2 ? "registration.updated" : "registration.created",
    payload: {
      event: {
        id: 8801,
        code: "KVS26",
        name: "Kaltura Virtual Summit",
        tags: ["marketo", "summit"],
        test: false,
        questions: { marketoProgramId: 1001 },
      },
      registration: {
        code: `R-${i}`,
        status,
        statusTags: ["registered"],
        attendeeType: "Attendee",
        attendeeTypeTags: ["external"],
        test,
        properties: { jobRole: "Engineering" },
        propertyTags: { jobRole: ["marketo"] },
      },
      profile: {
        email: k === 19 ? `not-an-email-${person}` : `  ${email(person, run).toUpperCase()} `,
        firstName: FIRST[person % FIRST.length],
        lastName: LAST[(person * 7) % LAST.length],
        company: ` Company ${person % 37} `,
        country: "GB",
      },
    },
  };
}

/** A message whose content does not matter (the naive flow's token request). */
function empty() {
  return { payload: "" };
}

const KINDS = { registration, engagement, lead, platformEvent, empty };

module.exports = { KINDS, LADDER, email };
