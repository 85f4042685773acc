/**
 * The plain event message every node of this package reads by default. Any platform's webhook
 * (Kaltura Events, Certain, Cvent, a form) becomes one with a single change node; every path a
 * node reads stays configurable, so other shapes work too.
 *
 *   msg.topic   = one of EVENT_TOPICS
 *   msg.payload = EventPayload
 */

/** What happened, in the platform's words (Certain's flow sources, plus engagement). */
export const EVENT_TOPICS = [
  "registration.created",
  "registration.updated",
  "registration.status_changed",
  "session_registration.status_changed",
  "event.created",
  "event.updated",
  "session.engagement",
] as const;

export type EventTopic = (typeof EVENT_TOPICS)[number];

export interface EventInfo {
  id?: string | number;
  code?: string;
  name?: string;
  /** Tags on the event (Certain: Plan ▸ Event Setup ▸ Details). */
  tags?: string[];
  /** A test event: only test flows take it. */
  test?: boolean;
  status?: string;
  statusTags?: string[];
  startDate?: string;
  endDate?: string;
  /** Event-level questions, e.g. the Marketo campaign id for this event. */
  questions?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface RegistrationInfo {
  code?: string;
  /** The platform's status, as granular as it has it ("Confirmed email", "Registered"). */
  status?: string;
  /** Tags on that status. */
  statusTags?: string[];
  /** The status before a status change, when the platform says. */
  previousStatus?: string;
  attendeeType?: string;
  attendeeTypeTags?: string[];
  /** A test registration: live flows drop it, test flows take only these. */
  test?: boolean;
  /** Custom registration properties and standard ones (Complete, Badge Printed...). */
  properties?: Record<string, unknown>;
  /** Tags on each property, by property name. */
  propertyTags?: Record<string, string[]>;
  [field: string]: unknown;
}

export interface ProfileInfo {
  email?: string;
  firstName?: string;
  lastName?: string;
  company?: string;
  title?: string;
  phone?: string;
  country?: string;
  [field: string]: unknown;
}

export interface SessionInfo {
  id?: string | number;
  name?: string;
  /** Session registration status (session_registration.status_changed). */
  status?: string;
  statusTags?: string[];
  [field: string]: unknown;
}

/** Session engagement figures, named as the Kaltura guide's custom activity fields. */
export interface EngagementInfo {
  entry_id?: string;
  entry_name?: string;
  [field: string]: unknown;
}

export interface EventPayload {
  event?: EventInfo;
  registration?: RegistrationInfo;
  profile?: ProfileInfo;
  session?: SessionInfo;
  engagement?: EngagementInfo;
}

/**
 * Where the platform event is in a message now, for the dialogs' "event." TypedInput type:
 * field-mapper moves it to `msg.source` when it puts the Marketo record in `msg.payload`, so
 * `msg.source` when that is an object (or, for an array of records, the same element of an
 * `msg.source` array), else the record itself. `label` names the place in errors.
 */
export function eventRoot(
  msg: { payload?: unknown; source?: unknown },
  record: unknown = msg.payload,
  index?: number,
): { root: unknown; label: string } {
  const source = msg.source;
  if (source !== null && typeof source === "object" && !Array.isArray(source))
    return { root: source, label: "msg.source" };
  if (index !== undefined && Array.isArray(source)) {
    const el: unknown = source[index];
    if (el !== null && typeof el === "object" && !Array.isArray(el)) return { root: el, label: `msg.source[${index}]` };
  }
  return {
    root: record,
    label: index !== undefined && Array.isArray(msg.payload) ? `msg.payload[${index}]` : "msg.payload",
  };
}
