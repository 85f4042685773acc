/**
 * The tag-filter's logic: Certain Signal's "flow" rules (Live/Test, Source, Activate for,
 * Filters) over the package's plain event message (see ./event.ts). Everything is compiled once
 * at deploy: paths, tag sets, per-topic plans, filter rules. Per message only own-property
 * reads, set look-ups and comparisons run; an object is allocated only to describe a rejection.
 * No Node-RED import.
 */
import { isUnsafeKey } from "../node-kit/guards";
import { EVENT_TOPICS, type EventTopic } from "./event";
import {
  MAX_LIST,
  MAX_TEXT,
  formatPath,
  isFieldObject,
  normTag,
  own,
  parsePath,
  readPath,
  show,
  showList,
  typeName,
  type PathSegment,
} from "./tag-filter-paths";
import { compileRule, type CompiledRule, type FilterRuleConfig, type RuleObjects } from "./tag-filter-rules";

const hasOwn = Object.prototype.hasOwnProperty;

export { MAX_LIST, MAX_TEXT } from "./tag-filter-paths";
export {
  RULE_OPERATORS,
  RULE_SCOPES,
  type FilterRuleConfig,
  type RuleOperator,
  type RuleScope,
} from "./tag-filter-rules";

export type TagMatch = "any" | "all";
export type LiveTestMode = "live" | "test" | "any";

/** The node's properties, exactly as the editor saves them (all optional: defaults apply). */
export interface TagFilterConfig {
  /** msg property holding the topic. Default "topic". */
  topicProp?: string;
  /** msg property holding the event payload ({event, registration, profile, session}). Default "payload". */
  payloadProp?: string;
  /** "live" drops test data, "test" passes only test data, "any" does not look. Default "live". */
  mode?: LiveTestMode;
  /** Source "Registration Create Update": registration.created + registration.updated. Default true. */
  srcRegistration?: boolean;
  /** Source "Registration Status Change": registration.status_changed. Default false. */
  srcRegistrationStatus?: boolean;
  /** Source "Session Registration Status Change": session_registration.status_changed. Default false. */
  srcSessionStatus?: boolean;
  /** Source "Event Create Update": event.created + event.updated. Default false. */
  srcEvent?: boolean;
  /** Source "Session engagement": session.engagement. Default false. */
  srcEngagement?: boolean;
  /** Activate for registration statuses: tags (comma-separated text or a list). Default "". */
  statusTags?: string | string[];
  statusMatch?: TagMatch;
  /** Activate for custom registration properties carrying these tags (and having a value). */
  propertyTags?: string | string[];
  propertyMatch?: TagMatch;
  /** Activate for attendee types with these tags. */
  attendeeTypeTags?: string | string[];
  attendeeTypeMatch?: TagMatch;
  /** Activate for events with these tags (event.tags). */
  eventTags?: string | string[];
  eventMatch?: TagMatch;
  /** Activate event create/update for event statuses with these tags (event.statusTags). */
  eventStatusTags?: string | string[];
  eventStatusMatch?: TagMatch;
  /** Activate for session registration statuses with these tags. */
  sessionStatusTags?: string | string[];
  sessionStatusMatch?: TagMatch;
  /** Filters: all must hold. Default []. */
  rules?: FilterRuleConfig[];
  /** E-mail domains held back (internal users, test traffic): comma-separated text or a list. */
  excludeDomains?: string | string[];
}

/** What `msg.filtered` is set to on output 2. */
export interface Rejection {
  /** "config" | "input" | "source" | "live-test" | "excluded-domain" | "activate-for:<object>" | "filter:<n>" */
  rule: string;
  /** A sentence naming the values involved. */
  reason: string;
}

/** The "Activate for" objects, in the order they are checked. */
export const ACTIVATION_OBJECTS = [
  "registration-status",
  "property",
  "attendee-type",
  "event",
  "event-status",
  "session-status",
] as const;
export type ActivationObject = (typeof ACTIVATION_OBJECTS)[number];

/** Topics each source checkbox enables. */
export const SOURCE_TOPICS = {
  srcRegistration: ["registration.created", "registration.updated"],
  srcRegistrationStatus: ["registration.status_changed"],
  srcSessionStatus: ["session_registration.status_changed"],
  srcEvent: ["event.created", "event.updated"],
  srcEngagement: ["session.engagement"],
} as const satisfies Record<string, readonly EventTopic[]>;
type SourceKey = keyof typeof SOURCE_TOPICS;

export const SOURCE_DEFAULTS: Record<SourceKey, boolean> = {
  srcRegistration: true,
  srcRegistrationStatus: false,
  srcSessionStatus: false,
  srcEvent: false,
  srcEngagement: false,
};

const REGISTRATION_TOPICS: readonly EventTopic[] = [
  "registration.created",
  "registration.updated",
  "registration.status_changed",
];
const WITH_REGISTRATION: readonly EventTopic[] = [...REGISTRATION_TOPICS, "session_registration.status_changed"];

/** Which topics each "Activate for" object constrains (other topics ignore it). */
export const ACTIVATION_TOPICS: Record<ActivationObject, readonly EventTopic[]> = {
  "registration-status": REGISTRATION_TOPICS,
  property: WITH_REGISTRATION,
  "attendee-type": WITH_REGISTRATION,
  event: EVENT_TOPICS,
  "event-status": ["event.created", "event.updated"],
  "session-status": ["session_registration.status_changed"],
};

/**
 * Certain's standard registration properties: each is its own tag, set up automatically with the
 * property's name, so a flow activates for "Badge Printed" without any propertyTags in the
 * message. The camel-case spelling is how a webhook's JSON usually names the same property.
 */
export const STANDARD_PROPERTIES: ReadonlyArray<{ tag: string; keys: readonly string[] }> = [
  { tag: "Complete", keys: ["Complete", "complete"] },
  { tag: "Badge Printed", keys: ["Badge Printed", "badgePrinted"] },
  { tag: "On To Do List", keys: ["On To Do List", "onToDoList"] },
  { tag: "Invoice Generated", keys: ["Invoice Generated", "invoiceGenerated"] },
  { tag: "Test", keys: ["Test", "test"] },
];

export class TagFilterConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "TagFilterConfigError";
  }
}

export interface CompiledTagFilter {
  /** null: the message passes (output 1). Otherwise why it does not (output 2). */
  evaluate(msg: unknown): Rejection | null;
  /** Topics that pass the source check. */
  readonly sources: readonly string[];
  /** Things worth a deploy-time warning (a status-change source with no statuses to activate for). */
  readonly warnings: readonly string[];
}

/** Splits "a, B ,c" (or a list) into display tags, dropping empties and duplicates (by normalised form). */
export function parseTags(v: unknown, what: string): string[] {
  let list: unknown[];
  if (v === undefined || v === null) return [];
  if (typeof v === "string") list = v.split(",");
  else if (Array.isArray(v)) list = v;
  else throw new Error(`${what} must be comma-separated text or a list, not ${typeName(v)}`);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of list) {
    if (typeof t !== "string") throw new Error(`${what} must contain only text, found ${typeName(t)}`);
    const d = t.trim();
    if (d === "") continue;
    if (d.length > MAX_TEXT) throw new Error(`${what} has a tag longer than ${MAX_TEXT} characters`);
    const n = d.toLowerCase();
    if (seen.has(n)) continue;
    seen.add(n);
    out.push(d);
  }
  return out;
}

/**
 * Matches a message's tags against configured tags without allocating: each configured tag has
 * an index, and a generation counter marks which were seen for the current message.
 */
class TagMatcher {
  private readonly index = new Map<string, number>();
  private readonly seen: Uint32Array;
  private gen = 0;
  private hits = 0;

  constructor(
    readonly display: readonly string[],
    readonly all: boolean,
  ) {
    display.forEach((t, i) => this.index.set(normTag(t), i));
    this.seen = new Uint32Array(display.length);
  }

  begin(): void {
    if (++this.gen === 0xffffffff) {
      this.seen.fill(0);
      this.gen = 1;
    }
    this.hits = 0;
  }

  offer(tag: string): void {
    let i = this.index.get(tag);
    if (i === undefined) {
      const n = normTag(tag);
      if (n !== tag) i = this.index.get(n);
    }
    if (i !== undefined && this.seen[i] !== this.gen) {
      this.seen[i] = this.gen;
      this.hits++;
    }
  }

  satisfied(): boolean {
    return this.all ? this.hits === this.display.length : this.hits > 0;
  }

  /** Configured tags not seen for the current message (only called to explain a rejection). */
  missing(): string[] {
    return this.display.filter((_, i) => this.seen[i] !== this.gen);
  }
}

/** A property counts as set unless it is missing, null, false, blank text or an empty list. */
export function hasValue(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (typeof v === "string") return v.trim() !== "";
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/** Checks a tag list read from the message; returns a reason when it cannot be used. */
function badTagList(list: unknown, path: string): string | null {
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) return `${path} is ${typeName(list)}, not a list of tags`;
  if (list.length > MAX_LIST) return `${path} has ${list.length} entries (at most ${MAX_LIST} are read)`;
  for (let i = 0; i < list.length; i++) {
    const t: unknown = list[i];
    if (typeof t !== "string") return `${path}[${i}] is ${typeName(t)}, not a tag`;
    if (t.length > MAX_TEXT) return `${path}[${i}] is ${t.length} characters long (at most ${MAX_TEXT} are read)`;
  }
  return null;
}

interface ActivationCheck {
  readonly rule: string;
  /** null: activates. Otherwise the reason. */
  check(objects: Objects): string | null;
}

interface Objects extends RuleObjects {
  session: unknown;
}

type ObjectKey = keyof Objects;

/** Tag lists on one object (registration.statusTags, event.tags + event.statusTags...). */
function listCheck(
  object: ActivationObject,
  label: string,
  objKey: ObjectKey,
  lists: readonly string[],
  matcher: TagMatcher,
  payloadPath: string,
): ActivationCheck {
  const objPath = `${payloadPath}.${objKey}`;
  const listPaths = lists.map((l) => `${objPath}.${l}`);
  const rule = `activate-for:${object}`;
  const wanted = showList(matcher.display);
  return {
    rule,
    check(objects) {
      const obj = objects[objKey];
      if (obj === undefined || obj === null)
        return `${objPath} is missing; ${label} must match ${matcher.all ? "all" : "any"} of ${wanted}`;
      matcher.begin();
      for (let l = 0; l < lists.length; l++) {
        const list = own(obj, lists[l]);
        const bad = badTagList(list, listPaths[l]);
        if (bad) return bad;
        if (list) for (let i = 0; i < (list as string[]).length; i++) matcher.offer((list as string[])[i]);
      }
      if (matcher.satisfied()) return null;
      const have: string[] = [];
      for (const l of lists) {
        const list = own(obj, l);
        if (Array.isArray(list)) have.push(...(list as string[]));
      }
      return matcher.all
        ? `${label} ${showList(have)} lack ${showList(matcher.missing())} (all of ${wanted} required)`
        : `${label} ${showList(have)} match none of ${wanted}`;
    },
  };
}

/**
 * Custom registration properties: tags of the properties that have a value, plus the standard
 * properties' own names when they have a value (and "Test" for a test registration).
 */
function propertyCheck(matcher: TagMatcher, payloadPath: string): ActivationCheck {
  // Only the standard properties the node activates for are looked at per message.
  const wantedNorm = new Set(matcher.display.map(normTag));
  const standard = STANDARD_PROPERTIES.filter((p) => wantedNorm.has(normTag(p.tag)));
  const standardSet = (reg: unknown, props: unknown): string[] => {
    const out: string[] = [];
    for (const p of standard) {
      let set = p.tag === "Test" && testFlag(own(reg, "test")) === true;
      for (let k = 0; !set && k < p.keys.length; k++) set = hasValue(own(props, p.keys[k]));
      if (set) out.push(p.tag);
    }
    return out;
  };
  const regPath = `${payloadPath}.registration`;
  const tagsPath = `${regPath}.propertyTags`;
  const propsPath = `${regPath}.properties`;
  const wanted = showList(matcher.display);
  return {
    rule: "activate-for:property",
    check(objects) {
      const reg = objects.registration;
      if (reg === undefined || reg === null)
        return `${regPath} is missing; property tags must match ${matcher.all ? "all" : "any"} of ${wanted}`;
      const tags = own(reg, "propertyTags");
      const props = own(reg, "properties");
      if (tags !== undefined && tags !== null && !isFieldObject(tags))
        return `${tagsPath} is ${typeName(tags)}, not an object of tag lists`;
      if (props !== undefined && props !== null && !isFieldObject(props))
        return `${propsPath} is ${typeName(props)}, not an object`;
      matcher.begin();
      let keys = 0;
      if (tags) {
        for (const key in tags) {
          if (!hasOwn.call(tags, key)) continue;
          if (++keys > MAX_LIST) return `${tagsPath} has more than ${MAX_LIST} properties`;
          if (isUnsafeKey(key)) return `${tagsPath} has the forbidden key ${JSON.stringify(key)}`;
          const list = tags[key];
          // show(): the key comes from the message and may be huge; the reason names it shortened.
          const bad = badTagList(list, `${tagsPath}[${show(key)}]`);
          if (bad) return bad;
          if (!list || !hasValue(own(props, key))) continue;
          for (let i = 0; i < (list as string[]).length; i++) matcher.offer((list as string[])[i]);
        }
      }
      const std = standard.length ? standardSet(reg, props) : [];
      for (let i = 0; i < std.length; i++) matcher.offer(std[i]);
      if (matcher.satisfied()) return null;
      const have: string[] = [...std];
      if (tags) {
        for (const key of Object.keys(tags)) {
          const list = tags[key];
          if (Array.isArray(list) && hasValue(own(props, key))) have.push(...(list as string[]));
        }
      }
      return matcher.all
        ? `tags on properties with a value ${showList(have)} lack ${showList(matcher.missing())} (all of ${wanted} required)`
        : `tags on properties with a value ${showList(have)} match none of ${wanted}`;
    },
  };
}

/** true / false for a test flag; undefined when the value is not a recognisable flag. */
function testFlag(v: unknown): boolean | undefined {
  if (v === true || v === 1) return true;
  if (v === false || v === 0 || v === undefined || v === null) return false;
  if (typeof v === "string") {
    const n = v.trim().toLowerCase();
    if (n === "true" || n === "1") return true;
    if (n === "false" || n === "0" || n === "") return false;
  }
  return undefined;
}

function flag(v: unknown, dflt: boolean, what: string, problems: string[]): boolean {
  if (v === undefined || v === null) return dflt;
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  problems.push(`${what} must be true or false, not ${show(v)}`);
  return dflt;
}

function choice<T extends string>(v: unknown, allowed: readonly T[], dflt: T, what: string, problems: string[]): T {
  if (v === undefined || v === null || v === "") return dflt;
  if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
  problems.push(`${what} must be one of ${allowed.join(", ")}, not ${show(v)}`);
  return dflt;
}

interface TopicPlan {
  topic: EventTopic;
  enabled: boolean;
  /** Set for a status-change source with nothing to activate for. */
  blocked?: Rejection;
  checks: ActivationCheck[];
}

/** The configured tags of each "Activate for" object, and whether all of them must match. */
interface ActivationTags {
  status: string[];
  statusAll: boolean;
  property: string[];
  propertyAll: boolean;
  attendee: string[];
  attendeeAll: boolean;
  event: string[];
  eventAll: boolean;
  eventStatus: string[];
  eventStatusAll: boolean;
  session: string[];
  sessionAll: boolean;
}

/** Everything the per-message evaluation reads, compiled once at deploy. */
interface FilterPlan {
  topicSegs: PathSegment[];
  payloadSegs: PathSegment[];
  topicPath: string;
  payloadPath: string;
  regPath: string;
  evPath: string;
  mode: LiveTestMode;
  excludedSet: ReadonlySet<string>;
  plans: ReadonlyMap<string, TopicPlan>;
  rules: readonly CompiledRule[];
  enabledText: string;
  /** Reused for every message (evaluation is synchronous); cleared after each so no message is kept. */
  objects: Objects;
}

/** A msg path setting, or its default (and a problem) when it cannot be parsed. */
function settingPath(v: unknown, dflt: string, what: string, problems: string[]): PathSegment[] {
  try {
    return parsePath(v === undefined || v === null || v === "" ? dflt : v, what);
  } catch (e) {
    problems.push((e as Error).message);
    return [dflt];
  }
}

/** The topics the Source checkboxes enable. */
function enabledSources(cfg: TagFilterConfig, problems: string[]): Set<EventTopic> {
  const enabledTopics = new Set<EventTopic>();
  for (const key of Object.keys(SOURCE_TOPICS) as SourceKey[]) {
    if (flag(cfg[key], SOURCE_DEFAULTS[key], key, problems)) for (const t of SOURCE_TOPICS[key]) enabledTopics.add(t);
  }
  return enabledTopics;
}

/**
 * Reads every tag setting, "Activate for" and excluded domains, noting each problem. The settings
 * are read in one fixed order so the problems are listed in it.
 */
function readTagSettings(cfg: TagFilterConfig, problems: string[]): { activation: ActivationTags; excluded: string[] } {
  const tags = (v: unknown, what: string): string[] => {
    try {
      return parseTags(v, what);
    } catch (e) {
      problems.push((e as Error).message);
      return [];
    }
  };
  const match = (v: unknown, what: string) => choice<TagMatch>(v, ["any", "all"], "any", what, problems) === "all";

  const statusAll = match(cfg.statusMatch, "statusMatch");
  const propertyAll = match(cfg.propertyMatch, "propertyMatch");
  const attendeeAll = match(cfg.attendeeTypeMatch, "attendeeTypeMatch");
  const eventAll = match(cfg.eventMatch, "eventMatch");
  const sessionAll = match(cfg.sessionStatusMatch, "sessionStatusMatch");
  const status = tags(cfg.statusTags, "statusTags");
  const property = tags(cfg.propertyTags, "propertyTags");
  const attendee = tags(cfg.attendeeTypeTags, "attendeeTypeTags");
  const event = tags(cfg.eventTags, "eventTags");
  const eventStatusAll = match(cfg.eventStatusMatch, "eventStatusMatch");
  const eventStatus = tags(cfg.eventStatusTags, "eventStatusTags");
  const excluded = tags(cfg.excludeDomains, "excludeDomains").map((d) => d.replace(/^@/, "").toLowerCase());
  for (const d of excluded)
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(d))
      problems.push(`excludeDomains: ${show(d)} is not an e-mail domain (such as example.com)`);
  const session = tags(cfg.sessionStatusTags, "sessionStatusTags");
  const activation: ActivationTags = {
    status,
    statusAll,
    property,
    propertyAll,
    attendee,
    attendeeAll,
    event,
    eventAll,
    eventStatus,
    eventStatusAll,
    session,
    sessionAll,
  };
  return { activation, excluded };
}

/** One check per "Activate for" object that has tags configured. */
function activationChecks(a: ActivationTags, payloadPath: string): Map<ActivationObject, ActivationCheck> {
  const checks = new Map<ActivationObject, ActivationCheck>();
  const tagList = (
    object: ActivationObject,
    label: string,
    objKey: ObjectKey,
    list: string,
    tags: string[],
    all: boolean,
  ): void => {
    if (tags.length)
      checks.set(object, listCheck(object, label, objKey, [list], new TagMatcher(tags, all), payloadPath));
  };
  tagList("registration-status", "registration status tags", "registration", "statusTags", a.status, a.statusAll);
  if (a.property.length) checks.set("property", propertyCheck(new TagMatcher(a.property, a.propertyAll), payloadPath));
  tagList("attendee-type", "attendee type tags", "registration", "attendeeTypeTags", a.attendee, a.attendeeAll);
  tagList("event", "event tags", "event", "tags", a.event, a.eventAll);
  tagList("event-status", "event status tags", "event", "statusTags", a.eventStatus, a.eventStatusAll);
  tagList("session-status", "session status tags", "session", "statusTags", a.session, a.sessionAll);
  return checks;
}

/** The Filters rows compiled, noting each row's problem. */
function compileRules(raw: unknown, payloadPath: string, problems: string[]): CompiledRule[] {
  const rules: CompiledRule[] = [];
  if (raw === undefined || raw === null) return rules;
  if (!Array.isArray(raw)) {
    problems.push(`rules must be a list, not ${typeName(raw)}`);
    return rules;
  }
  raw.forEach((r, i) => {
    try {
      rules.push(compileRule(r, i, payloadPath));
    } catch (e) {
      problems.push((e as Error).message);
    }
  });
  return rules;
}

/**
 * A status-change source enabled with no statuses to activate for rejects every message of its
 * topic; the deploy warns about it once per source checkbox.
 */
function blockedSource(
  topic: EventTopic,
  enabledTopics: ReadonlySet<EventTopic>,
  a: ActivationTags,
  warnings: string[],
): Rejection | undefined {
  if (!enabledTopics.has(topic)) return undefined;
  if (topic === "registration.status_changed" && !a.status.length) {
    const reason = `source ${topic} activates only for the registration statuses selected, and no registration status tags are configured`;
    warnings.push(reason);
    return { rule: "activate-for:registration-status", reason };
  }
  if ((topic === "event.created" || topic === "event.updated") && !a.eventStatus.length) {
    const reason = `source ${topic} activates only for the event statuses selected, and no event status tags are configured`;
    if (topic === "event.created")
      warnings.push(
        "source event.created and event.updated activates only for the event statuses selected, and no event status tags are configured",
      );
    return { rule: "activate-for:event-status", reason };
  }
  if (topic === "session_registration.status_changed" && !a.session.length) {
    const reason = `source ${topic} activates only for the session registration statuses selected, and no session status tags are configured`;
    warnings.push(reason);
    return { rule: "activate-for:session-status", reason };
  }
  return undefined;
}

/** Per topic: whether its source is enabled, whether it is blocked, and the activation checks that apply. */
function topicPlans(
  enabledTopics: ReadonlySet<EventTopic>,
  checks: ReadonlyMap<ActivationObject, ActivationCheck>,
  a: ActivationTags,
  warnings: string[],
): Map<string, TopicPlan> {
  const plans = new Map<string, TopicPlan>();
  for (const topic of EVENT_TOPICS) {
    const planChecks: ActivationCheck[] = [];
    for (const obj of ACTIVATION_OBJECTS) {
      const c = checks.get(obj);
      if (c && ACTIVATION_TOPICS[obj].includes(topic)) planChecks.push(c);
    }
    const blocked = blockedSource(topic, enabledTopics, a, warnings);
    plans.set(topic, { topic, enabled: enabledTopics.has(topic), blocked, checks: planChecks });
  }
  return plans;
}

/**
 * Compiles a tag-filter configuration. Throws TagFilterConfigError listing every problem
 * (invalid regex, bad path, unknown operator or mode...).
 */
export function compileTagFilter(config: TagFilterConfig): CompiledTagFilter {
  const problems: string[] = [];
  const warnings: string[] = [];
  const cfg = (config ?? {}) as TagFilterConfig;

  const topicSegs = settingPath(cfg.topicProp, "topic", "topic property", problems);
  const payloadSegs = settingPath(cfg.payloadProp, "payload", "payload property", problems);
  const payloadPath = `msg.${formatPath(payloadSegs)}`;
  const mode = choice<LiveTestMode>(cfg.mode, ["live", "test", "any"], "live", "mode", problems);
  const enabledTopics = enabledSources(cfg, problems);
  const sources = EVENT_TOPICS.filter((t) => enabledTopics.has(t));
  if (sources.length === 0) warnings.push("no source is enabled, so nothing will pass");
  const { activation, excluded } = readTagSettings(cfg, problems);
  const checks = activationChecks(activation, payloadPath);
  const rules = compileRules(cfg.rules, payloadPath, problems);
  const plans = topicPlans(enabledTopics, checks, activation, warnings);
  if (problems.length) throw new TagFilterConfigError(problems);

  const plan: FilterPlan = {
    topicSegs,
    payloadSegs,
    topicPath: `msg.${formatPath(topicSegs)}`,
    payloadPath,
    regPath: `${payloadPath}.registration`,
    evPath: `${payloadPath}.event`,
    mode,
    excludedSet: new Set(excluded),
    plans,
    rules,
    enabledText: showList(sources),
    objects: { event: undefined, registration: undefined, profile: undefined, session: undefined },
  };
  const objects = plan.objects;
  return {
    sources,
    warnings,
    evaluate(msg) {
      try {
        return evaluateMessage(plan, msg);
      } finally {
        objects.event = objects.registration = objects.profile = objects.session = undefined;
      }
    },
  };
}

/** The checks in order: source, payload shape, live/test, excluded domain, "Activate for", Filters. */
function evaluateMessage(p: FilterPlan, msg: unknown): Rejection | null {
  const topic = readPath(msg, p.topicSegs);
  const plan =
    typeof topic === "string" && topic.length <= MAX_TEXT
      ? (p.plans.get(topic) ?? p.plans.get(normTag(topic)))
      : undefined;
  if (plan === undefined || !plan.enabled || plan.blocked) return sourceRejection(p, topic, plan);
  const bad = readObjects(p, readPath(msg, p.payloadSegs));
  if (bad) return bad;
  const objects = p.objects;
  if (p.mode !== "any") {
    const why = liveTestRejection(p, p.mode, objects);
    if (why) return why;
  }
  if (p.excludedSet.size) {
    const why = excludedDomainRejection(p.excludedSet, own(objects.profile, "email"), p.payloadPath);
    if (why) return why;
  }
  const pc = plan.checks;
  for (let i = 0; i < pc.length; i++) {
    const why = pc[i].check(objects);
    if (why !== null) return { rule: pc[i].rule, reason: why };
  }
  const rules = p.rules;
  for (let i = 0; i < rules.length; i++) {
    const why = rules[i].test(objects);
    if (why !== null) return { rule: `filter:${rules[i].index}`, reason: why };
  }
  return null;
}

/** Why a message's topic does not pass the source check (called only when it does not). */
function sourceRejection(p: FilterPlan, topic: unknown, plan: TopicPlan | undefined): Rejection {
  const { topicPath, enabledText } = p;
  if (typeof topic !== "string")
    return {
      rule: "source",
      reason: `${topicPath} is ${typeName(topic)}, not a topic; enabled sources: ${enabledText}`,
    };
  if (topic.length > MAX_TEXT)
    return { rule: "source", reason: `${topicPath} is ${topic.length} characters long, not a known topic` };
  if (plan === undefined)
    return {
      rule: "source",
      reason: `${topicPath} ${show(topic)} is not a known source; enabled sources: ${enabledText}`,
    };
  if (!plan.enabled || !plan.blocked)
    return { rule: "source", reason: `source ${plan.topic} is not enabled; enabled sources: ${enabledText}` };
  return { rule: plan.blocked.rule, reason: plan.blocked.reason };
}

function notAnObject(payloadPath: string, k: ObjectKey, v: unknown): Rejection {
  return { rule: "input", reason: `${payloadPath}.${k} is ${typeName(v)}, not an object` };
}

/** Fills `p.objects` from the payload's own properties; a rejection when one is not an object. */
function readObjects(p: FilterPlan, payload: unknown): Rejection | null {
  const { payloadPath } = p;
  if (!isFieldObject(payload))
    return { rule: "input", reason: `${payloadPath} is ${typeName(payload)}, not an object` };
  // Named reads (monomorphic, fast) of own properties only.
  const event = hasOwn.call(payload, "event") ? payload.event : undefined;
  if (event !== undefined && event !== null && !isFieldObject(event)) return notAnObject(payloadPath, "event", event);
  const registration = hasOwn.call(payload, "registration") ? payload.registration : undefined;
  if (registration !== undefined && registration !== null && !isFieldObject(registration))
    return notAnObject(payloadPath, "registration", registration);
  const profile = hasOwn.call(payload, "profile") ? payload.profile : undefined;
  if (profile !== undefined && profile !== null && !isFieldObject(profile))
    return notAnObject(payloadPath, "profile", profile);
  const session = hasOwn.call(payload, "session") ? payload.session : undefined;
  if (session !== undefined && session !== null && !isFieldObject(session))
    return notAnObject(payloadPath, "session", session);
  const objects = p.objects;
  objects.event = event;
  objects.registration = registration;
  objects.profile = profile;
  objects.session = session;
  return null;
}

/** Live drops test data, test takes only test data; a flag that is neither true nor false rejects. */
function liveTestRejection(p: FilterPlan, mode: "live" | "test", objects: Objects): Rejection | null {
  const { registration, event } = objects;
  const { regPath, evPath } = p;
  const rt = testFlag(
    registration && hasOwn.call(registration, "test") ? (registration as Record<string, unknown>).test : undefined,
  );
  if (rt === undefined)
    return {
      rule: "live-test",
      reason: `${regPath}.test is ${show(own(registration, "test"))}, not true or false`,
    };
  const et = testFlag(event && hasOwn.call(event, "test") ? (event as Record<string, unknown>).test : undefined);
  if (et === undefined)
    return {
      rule: "live-test",
      reason: `${evPath}.test is ${show(own(event, "test"))}, not true or false`,
    };
  if (mode === "live" && (rt || et))
    return {
      rule: "live-test",
      reason: `a live filter drops test data, and ${rt ? `${regPath}.test` : `${evPath}.test`} is true`,
    };
  if (mode === "test" && !rt && !et)
    return {
      rule: "live-test",
      reason: `a test filter takes only test data, and neither ${regPath}.test nor ${evPath}.test is true`,
    };
  return null;
}

/** Holds back an e-mail address at an excluded domain or at any subdomain of one. */
function excludedDomainRejection(excluded: ReadonlySet<string>, email: unknown, payloadPath: string): Rejection | null {
  // Longer than any e-mail address can be: nothing to hold back by domain.
  if (typeof email !== "string" || email.length > 320) return null;
  const at = email.lastIndexOf("@");
  if (at < 0) return null;
  // The domain and every parent domain: "eu.acme.com" is held back by "acme.com".
  let d = email
    .slice(at + 1)
    .trim()
    .toLowerCase();
  while (d !== "") {
    if (excluded.has(d))
      return {
        rule: "excluded-domain",
        reason: `${payloadPath}.profile.email ${show(email)} is at ${d}, an excluded e-mail domain`,
      };
    const dot = d.indexOf(".");
    d = dot < 0 ? "" : d.slice(dot + 1);
  }
  return null;
}
