/**
 * The demo instance: what an event integration (Kaltura's Marketo guide) expects an admin to
 * have set up — an event channel with Kaltura's statuses, event programs, a requestable
 * campaign, a registration form, the `userSessionEngagement` custom activity and the
 * `kalturaUserSessionEngagement` custom object. Each call returns fresh copies so a module's
 * reset() can start over from them.
 */
import type {
  ActivityAttribute,
  ActivityType,
  Campaign,
  Channel,
  CustomObjectField,
  CustomObjectType,
  Form,
  Program,
  ProgressionStatus,
} from "./model";
import type { SeedOptions } from "./types";
import type { FieldDataType } from "./values";

/** Fixed creation times so seeded objects look the same on every run. */
const CHANNELS_CREATED = Date.parse("2024-01-15T11:40:57Z");
const PROGRAMS_CREATED = Date.parse("2024-02-01T09:30:00Z");
const CAMPAIGNS_CREATED = Date.parse("2024-02-01T10:00:00Z");
const TYPES_CREATED = Date.parse("2024-01-20T08:00:00Z");

export const KALTURA_CHANNEL = "Kaltura Event";
export const WEBINAR_CHANNEL = "Webinar";
export const SUMMIT_PROGRAM_ID = 1001;
export const WEBINAR_PROGRAM_ID = 1002;
export const REGISTRATION_CAMPAIGN_ID = 2001;
export const NEWSLETTER_CAMPAIGN_ID = 2002;
export const INACTIVE_CAMPAIGN_ID = 2003;
export const REGISTRATION_FORM_ID = 3001;
export const ENGAGEMENT_ACTIVITY_TYPE_ID = 100001;
export const ENGAGEMENT_ACTIVITY = "userSessionEngagement";
export const ENGAGEMENT_OBJECT = "kalturaUserSessionEngagement";
/** One record per lead per entry; with entry_id alone attendees would overwrite each other. */
export const DEFAULT_ENGAGEMENT_DEDUPE = ["entry_id", "personId"];

/** Standard activity type ids other modules record. */
export const ACTIVITY_FILL_OUT_FORM = 2;
export const ACTIVITY_ADD_TO_LIST = 24;
export const ACTIVITY_REMOVE_FROM_LIST = 25;
export const ACTIVITY_REQUEST_CAMPAIGN = 47;
export const ACTIVITY_CHANGE_STATUS = 104;

function status(name: string, step: number, success = false): ProgressionStatus {
  return { name, step, description: null, hidden: false, success };
}

export function seedChannels(): Channel[] {
  return [
    {
      id: 1,
      name: KALTURA_CHANNEL,
      applicableProgramType: "event",
      // The statuses and steps of Kaltura's channel setup table; "Not in Program" is Marketo's own.
      progressionStatuses: [
        status("Not in Program", 0),
        status("Created", 10),
        status("Invited", 20),
        status("Registered", 30, true),
        status("Confirmed", 40, true),
        status("autoConfirmed", 40, true),
        status("Attended", 50, true),
        status("Participated", 60, true),
        status("Blocked", 70),
        status("Un-registered", 80),
      ],
      createdAt: CHANNELS_CREATED,
      updatedAt: CHANNELS_CREATED,
    },
    {
      id: 2,
      name: WEBINAR_CHANNEL,
      applicableProgramType: "event",
      progressionStatuses: [
        status("Not in Program", 0),
        status("Invited", 10),
        status("Registered", 20),
        status("No Show", 30),
        status("Attended", 40, true),
        status("Attended On-demand", 40, true),
      ],
      createdAt: CHANNELS_CREATED,
      updatedAt: CHANNELS_CREATED,
    },
  ];
}

export function seedPrograms(): Program[] {
  const base = {
    description: "",
    type: "Event",
    status: "",
    workspace: "Default",
    folder: { type: "Folder" as const, value: 1910, folderName: "Events" },
    createdAt: PROGRAMS_CREATED,
    updatedAt: PROGRAMS_CREATED,
  };
  return [
    { ...base, id: SUMMIT_PROGRAM_ID, name: "Kaltura Virtual Summit", channel: KALTURA_CHANNEL },
    { ...base, id: WEBINAR_PROGRAM_ID, name: "Certain Webinar", channel: WEBINAR_CHANNEL },
  ];
}

export function seedCampaigns(): Campaign[] {
  const base = {
    description: "",
    programId: SUMMIT_PROGRAM_ID,
    programName: "Kaltura Virtual Summit",
    workspaceName: "Default",
    createdAt: CAMPAIGNS_CREATED,
    updatedAt: CAMPAIGNS_CREATED,
  };
  return [
    {
      ...base,
      id: REGISTRATION_CAMPAIGN_ID,
      name: "Registration confirmation",
      type: "trigger",
      active: true,
      requestable: true,
    },
    {
      ...base,
      id: NEWSLETTER_CAMPAIGN_ID,
      name: "Monthly newsletter",
      type: "batch",
      active: false,
      requestable: false,
    },
    { ...base, id: INACTIVE_CAMPAIGN_ID, name: "Inactive trigger", type: "trigger", active: false, requestable: true },
  ];
}

/** A static list in the lead database (Get Lists shape). */
export interface StaticList {
  id: number;
  name: string;
  description: string;
  programName: string;
  workspaceName: string;
  createdAt: number;
  updatedAt: number;
}

export const ATTENDEES_LIST_ID = 4001;
export const INVITEES_LIST_ID = 4002;

export function seedLists(): StaticList[] {
  const base = {
    description: "",
    programName: "Kaltura Virtual Summit",
    workspaceName: "Default",
    createdAt: PROGRAMS_CREATED,
    updatedAt: PROGRAMS_CREATED,
  };
  return [
    { ...base, id: ATTENDEES_LIST_ID, name: "Summit attendees" },
    { ...base, id: INVITEES_LIST_ID, name: "Summit invitees" },
  ];
}

export function seedForms(): Form[] {
  return [
    {
      id: REGISTRATION_FORM_ID,
      name: "Event registration form",
      programId: SUMMIT_PROGRAM_ID,
      workspace: "Default",
      fields: ["email", "firstName", "lastName", "company", "title", "phone", "country"],
    },
  ];
}

function attr(name: string, dataType: FieldDataType): ActivityAttribute {
  return { name, dataType };
}

/** `entry_name` → `Entry Name`, for display names of API-named attributes and fields. */
export function displayNameOf(apiName: string): string {
  return apiName
    .split("_")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(" ")
    .replace(/([a-z])([A-Z])/g, "$1 $2");
}

function customAttr(apiName: string, dataType: FieldDataType): ActivityAttribute {
  return { apiName, name: displayNameOf(apiName), description: "", dataType };
}

/**
 * A few standard types plus Kaltura's custom engagement activity. The ids are Marketo's: Fill
 * Out Form = 2 as its documentation shows, and the others as clients hard-code them (Visit
 * Webpage 1, New Lead 12, Change Data Value 13, Add to List 24, Remove from List 25, Request
 * Campaign 47, Change Status in Progression 104).
 */
export function seedActivityTypes(): ActivityType[] {
  const web = [
    attr("Client IP Address", "string"),
    attr("Query Parameters", "string"),
    attr("Referrer URL", "string"),
    attr("User Agent", "string"),
  ];
  return [
    {
      id: 1,
      name: "Visit Webpage",
      description: "User visits a web page",
      primaryAttribute: attr("Webpage ID", "integer"),
      attributes: [...web, attr("Webpage URL", "string")],
    },
    {
      id: ACTIVITY_FILL_OUT_FORM,
      name: "Fill Out Form",
      description: "User fills out and submits form on web page",
      primaryAttribute: attr("Webform ID", "integer"),
      // In the order Marketo's documented Get Activity Types answer lists them.
      attributes: [web[0], attr("Form Fields", "text"), web[1], web[2], web[3], attr("Webpage ID", "integer")],
    },
    {
      id: 12,
      name: "New Lead",
      description: "New person/record is added to the lead database",
      attributes: [
        attr("Form Name", "string"),
        attr("Lead Source", "string"),
        attr("List Name", "string"),
        attr("Source Type", "string"),
      ],
    },
    {
      id: 13,
      name: "Change Data Value",
      description: "Changed attribute value for a person",
      primaryAttribute: attr("Attribute Name", "integer"),
      attributes: [
        attr("New Value", "string"),
        attr("Old Value", "string"),
        attr("Reason", "string"),
        attr("Source", "string"),
      ],
    },
    {
      id: ACTIVITY_ADD_TO_LIST,
      name: "Add to List",
      description: "Person is added to a list",
      primaryAttribute: attr("List ID", "integer"),
      attributes: [attr("Source", "string")],
    },
    {
      id: ACTIVITY_REMOVE_FROM_LIST,
      name: "Remove from List",
      description: "Person is removed from a list",
      primaryAttribute: attr("List ID", "integer"),
      attributes: [attr("Source", "string")],
    },
    {
      id: ACTIVITY_REQUEST_CAMPAIGN,
      name: "Request Campaign",
      description: "Request a person to be processed by a campaign",
      primaryAttribute: attr("Campaign ID", "integer"),
      attributes: [attr("Source", "string")],
    },
    {
      id: ACTIVITY_CHANGE_STATUS,
      name: "Change Status in Progression",
      description: "Change a person's program status",
      primaryAttribute: attr("Program ID", "integer"),
      attributes: [
        attr("Acquired By", "boolean"),
        attr("New Status ID", "integer"),
        attr("New Status", "string"),
        attr("Old Status ID", "integer"),
        attr("Old Status", "string"),
        attr("Program Member ID", "integer"),
        attr("Reason", "string"),
        attr("Success", "boolean"),
      ],
    },
    {
      id: 145,
      name: "Push Lead to Marketo",
      description: "Push a person to Marketo",
      primaryAttribute: attr("Program ID", "integer"),
      attributes: [attr("Reason", "string"), attr("Source", "string")],
    },
    {
      id: ENGAGEMENT_ACTIVITY_TYPE_ID,
      apiName: ENGAGEMENT_ACTIVITY,
      name: "User Session Engagement",
      description: "Engagement of an attendee with one Kaltura entry",
      triggerName: "Has User Session Engagement",
      filterName: "Had User Session Engagement",
      status: "approved",
      createdAt: TYPES_CREATED,
      updatedAt: TYPES_CREATED,
      primaryAttribute: customAttr("entry_id", "string"),
      // Kaltura's custom activity table, in its order (its duplicated "high live engagement
      // rate" row is one attribute).
      attributes: [
        customAttr("entry_name", "string"),
        customAttr("email", "string"),
        customAttr("user", "string"),
        customAttr("channel_id", "integer"),
        customAttr("channel_name", "string"),
        customAttr("plays", "integer"),
        customAttr("vod_minutes_viewed", "float"),
        customAttr("live_minutes_viewed", "float"),
        customAttr("total_vod_completion_rate", "float"),
        customAttr("no_live_engagement_rate", "float"),
        customAttr("low_live_engagement_rate", "float"),
        customAttr("fair_live_engagement_rate", "float"),
        customAttr("good_live_engagement_rate", "float"),
        customAttr("high_live_engagement_rate", "float"),
        customAttr("clap_clicked_count", "integer"),
        customAttr("heart_clicked_count", "integer"),
        customAttr("think_clicked_count", "integer"),
        customAttr("wow_clicked_count", "integer"),
        customAttr("smile_clicked_count", "integer"),
      ],
    },
  ];
}

function coField(name: string, dataType: FieldDataType, displayName = displayNameOf(name)): CustomObjectField {
  const field: CustomObjectField = { name, displayName, dataType, updateable: true };
  if (dataType === "string") field.length = 255;
  return field;
}

export function seedCustomObjectTypes(seed: SeedOptions): CustomObjectType[] {
  const dedupeFields = seed.engagementDedupeFields?.length
    ? [...seed.engagementDedupeFields]
    : [...DEFAULT_ENGAGEMENT_DEDUPE];
  const searchable: string[][] = [[...dedupeFields], ["marketoGUID"]];
  if (!(dedupeFields.length === 1 && dedupeFields[0] === "personId")) searchable.push(["personId"]);
  return [
    {
      name: ENGAGEMENT_OBJECT,
      displayName: "Kaltura User Session Engagement",
      pluralName: "Kaltura User Session Engagements",
      description: "Engagement of one attendee with one Kaltura entry",
      createdAt: TYPES_CREATED,
      updatedAt: TYPES_CREATED,
      idField: "marketoGUID",
      dedupeFields,
      searchableFields: searchable,
      relationships: [{ field: "personId", type: "parent", relatedTo: { name: "Lead", field: "id" } }],
      // Kaltura's custom object table with its typos fixed ("floor" → float, "itoat"); the
      // name combined_live_engaged_users_play_time_ratio wraps over two lines of the table.
      fields: [
        // System fields first, in the order the documented describe answer lists them.
        { name: "marketoGUID", displayName: "Marketo GUID", dataType: "string", length: 36, updateable: false },
        { name: "createdAt", displayName: "Created At", dataType: "datetime", updateable: false },
        { name: "updatedAt", displayName: "Updated At", dataType: "datetime", updateable: false },
        coField("entry_id", "string", "Entry ID"),
        coField("entry_name", "string"),
        coField("personId", "link", "Person ID"),
        coField("email", "string"),
        coField("user", "string"),
        coField("channel_id", "integer", "Channel ID"),
        coField("channel_name", "string"),
        coField("plays", "integer"),
        coField("vod_minutes_viewed", "float", "VOD Minutes Viewed"),
        coField("live_minutes_viewed", "float"),
        coField("total_vod_completion_rate", "float", "Total VOD Completion Rate"),
        coField("no_live_engagement_rate", "float"),
        coField("low_live_engagement_rate", "float"),
        coField("fair_live_engagement_rate", "float"),
        coField("good_live_engagement_rate", "float"),
        coField("high_live_engagement_rate", "float"),
        coField("clap_clicked_count", "integer"),
        coField("heart_clicked_count", "integer"),
        coField("think_clicked_count", "integer"),
        coField("wow_clicked_count", "integer"),
        coField("smile_clicked_count", "integer"),
        coField("answered_polls", "integer"),
        coField("messages_sent_group", "integer"),
        coField("qna_threads", "integer", "Q&A Threads"),
        coField("combined_live_engaged_users_play_time_ratio", "float"),
        coField("download_attachment", "integer"),
        coField("add_to_calendar", "integer"),
        coField("mic_on", "float", "Mic On"),
        coField("cam_on", "float", "Cam On"),
        coField("total_reactions_activity", "integer"),
        coField("raise_hand", "integer"),
      ],
    },
  ];
}
