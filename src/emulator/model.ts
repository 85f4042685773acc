/**
 * Shapes of the emulated Marketo objects other than leads, as the domain modules hold them.
 * Field names follow Marketo's API words so responses can be built by copying.
 */
import type { FieldDataType } from "./values";

export interface ProgressionStatus {
  name: string;
  step: number;
  description: string | null;
  hidden: boolean;
  success: boolean;
}

export interface Channel {
  id: number;
  name: string;
  applicableProgramType: string;
  progressionStatuses: ProgressionStatus[];
  /** Epoch ms; rendered in the asset date format. */
  createdAt: number;
  updatedAt: number;
}

export interface Program {
  id: number;
  name: string;
  description: string;
  type: string;
  /** The channel's name, as the asset API reports it. */
  channel: string;
  status: string;
  workspace: string;
  folder: { type: "Folder" | "Program"; value: number; folderName: string };
  createdAt: number;
  updatedAt: number;
}

export interface Campaign {
  id: number;
  name: string;
  description: string;
  type: "trigger" | "batch";
  programId: number;
  programName: string;
  workspaceName: string;
  active: boolean;
  /** Whether the campaign has the "Campaign is Requested" (Web Service API) trigger. */
  requestable: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface Form {
  id: number;
  name: string;
  programId?: number;
  workspace: string;
  /** REST field names that exist on the form. */
  fields: string[];
}

export interface ActivityAttribute {
  name: string;
  /** Present on custom activity types only. */
  apiName?: string;
  description?: string;
  dataType: FieldDataType;
}

export interface ActivityType {
  id: number;
  name: string;
  description: string;
  /** Present on custom activity types only; its presence is what makes a type custom. */
  apiName?: string;
  triggerName?: string;
  filterName?: string;
  status?: "draft" | "approved" | "approved with draft" | "deleted";
  createdAt?: number;
  updatedAt?: number;
  primaryAttribute?: ActivityAttribute;
  attributes: ActivityAttribute[];
}

export interface CustomObjectField {
  name: string;
  displayName: string;
  dataType: FieldDataType;
  length?: number;
  updateable: boolean;
}

export interface CustomObjectRelationship {
  field: string;
  type: "parent";
  relatedTo: { name: string; field: string };
}

export interface CustomObjectType {
  name: string;
  displayName: string;
  pluralName: string;
  description: string;
  createdAt: number;
  updatedAt: number;
  idField: "marketoGUID";
  dedupeFields: string[];
  searchableFields: string[][];
  relationships: CustomObjectRelationship[];
  fields: CustomObjectField[];
}
