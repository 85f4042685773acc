import { assetGet, assetGetAll } from "./asset";
import type { OpContext } from "./context";

/** A form as Get Forms lists it (the fields the dialog shows). */
export interface FormAsset {
  id: number;
  name: string;
  status?: string;
  folder?: { type?: string; value?: number; folderName?: string };
  [key: string]: unknown;
}

/** A field of a form as Get Form Fields lists it: `id` is the lead field's REST name. */
export interface FormFieldAsset {
  id: string;
  label?: string;
  dataType?: string;
  required?: boolean;
  [key: string]: unknown;
}

/** Get Forms: every form (approved and draft), paged 200 at a time. */
export function getForms(ctx: OpContext): Promise<FormAsset[]> {
  return assetGetAll<FormAsset>(ctx, "getForms", "/rest/asset/v1/forms.json");
}

/** Get Form Fields: the fields of one form (none when Marketo knows no such form). */
export function getFormFields(ctx: OpContext, formId: number): Promise<FormFieldAsset[]> {
  return assetGet<FormFieldAsset>(
    ctx,
    "getFormFields",
    `/rest/asset/v1/form/${encodeURIComponent(formId)}/fields.json`,
  );
}
