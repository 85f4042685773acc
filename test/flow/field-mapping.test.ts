import fs = require("fs");
import path = require("path");
import should = require("should");
import { compileMapping } from "../../src/lib/flow/field-mapping";
import { coerceValue, isEmail, properCase, transformText } from "../../src/lib/flow/field-coercion";
import { parsePath, splitPaths } from "../../src/lib/flow/field-paths";
import { problemsReason } from "../../src/lib/flow/field-mapping-apply";
import { parsePreviewBody } from "../../src/lib/flow/field-mapping-preview";
import type {
  CompiledMapping,
  MapOutcome,
  MappingRow,
  SourceHooks,
  TargetField,
} from "../../src/lib/flow/field-mapping-rows";
import { BUILTIN_TARGET_FIELDS, DEFAULT_ROWS, targetFieldsFromDescribe } from "../../src/lib/flow/field-targets";
import { LEAD_FIELDS } from "../../src/emulator/leadFields";

function row(target: string, source: string, extra: Partial<MappingRow> = {}): MappingRow {
  return { target, sourceType: "msg", source, ...extra };
}

function compile(rows: unknown, targetFields?: unknown, hooks?: SourceHooks): CompiledMapping {
  const c = compileMapping(rows, targetFields, hooks);
  if (!c.ok) throw new Error(`did not compile: ${c.errors.join("; ")}`);
  return c.mapping;
}

function mapSync(m: CompiledMapping, msg: unknown): MapOutcome {
  const out = m.map(msg);
  if (out instanceof Promise) throw new Error("expected a synchronous mapping");
  return out;
}

function errorsOf(rows: unknown, targetFields?: unknown, hooks?: SourceHooks): string[] {
  const c = compileMapping(rows, targetFields, hooks);
  if (c.ok) throw new Error("expected the rows to be refused");
  return c.errors;
}

const FIXTURES = path.join(__dirname, "..", "fixtures");
const kaltura = JSON.parse(fs.readFileSync(path.join(FIXTURES, "kaltura-events.json"), "utf8")) as Array<{
  payload: unknown;
}>;
const certain = JSON.parse(fs.readFileSync(path.join(FIXTURES, "certain-events.json"), "utf8")) as Array<{
  payload: unknown;
}>;

describe("field-mapping: transforms", () => {
  it("Proper Case handles apostrophes, hyphens and Mc names", () => {
    should(properCase("o'neil-smith mcdonald")).equal("O'Neil-Smith Mcdonald");
    should(properCase("O'NEIL")).equal("O'Neil");
    should(properCase("don't stop")).equal("Don't Stop");
    should(properCase("d’arcy")).equal("D’Arcy");
    should(properCase("jean-luc picard")).equal("Jean-Luc Picard");
    should(properCase("LOVELACE")).equal("Lovelace");
  });

  it("Proper Case is Unicode-aware", () => {
    should(properCase("élodie DE LA CRUZ")).equal("Élodie De La Cruz");
    should(properCase("ÅSA ÖSTERBERG")).equal("Åsa Österberg");
    should(properCase("łukasz żółć")).equal("Łukasz Żółć");
    should(properCase("e\u0301lodie")).equal("E\u0301lodie");
    should(properCase("анна каренина")).equal("Анна Каренина");
    should(properCase("3m company")).equal("3m Company");
  });

  it("Trim combines with every case, and the cases apply without Trim", () => {
    should(transformText("  ADA.Lovelace@Example.com ", true, "lower")).equal("ada.lovelace@example.com");
    should(transformText("  ada lovelace ", true, "proper")).equal("Ada Lovelace");
    should(transformText("  ada ", true, "upper")).equal("ADA");
    should(transformText("  ada ", true, "none")).equal("ada");
    should(transformText("  ada ", false, "upper")).equal("  ADA ");
    should(transformText("\u00a0ada\t", true, "none")).equal("ada");
  });
});

describe("field-mapping: msg paths", () => {
  it("parses dots, indexes and quoted keys; accepts a msg. prefix", () => {
    should(parsePath("payload.profile.email")).eql(["payload", "profile", "email"]);
    should(parsePath("msg.payload.tags[0]")).eql(["payload", "tags", 0]);
    should(parsePath("payload.registration.properties['Badge Printed']")).eql([
      "payload",
      "registration",
      "properties",
      "Badge Printed",
    ]);
    should(parsePath('payload["a.b"].c')).eql(["payload", "a.b", "c"]);
  });

  it("refuses bad syntax and prototype keys", () => {
    for (const bad of [
      "",
      "payload..x",
      "payload.",
      "payload[msg.x]",
      "payload[abc]",
      "payload.__proto__.x",
      "payload.constructor",
      "payload['prototype']",
      "pay load",
    ]) {
      should(() => parsePath(bad)).throw(Error);
    }
  });

  it("splits concat sources on commas outside brackets and quotes", () => {
    should(splitPaths("payload.a, payload.b")).eql(["payload.a", "payload.b"]);
    should(splitPaths("payload['x, y'],payload.z, ")).eql(["payload['x, y']", "payload.z"]);
  });
});

describe("field-mapping: sources", () => {
  const msg = {
    topic: "registration.created",
    payload: { profile: { firstName: "ada", lastName: "lovelace", email: "a@x.com" }, tags: ["t0", "t1"], n: 7 },
  };

  it("msg path", () => {
    const out = mapSync(
      compile([row("firstName", "payload.profile.firstName"), row("email", "payload.profile.email")]),
      msg,
    );
    should(out).eql({ record: { firstName: "ada", email: "a@x.com" }, problems: [] });
  });

  it("array index in a path", () => {
    const out = mapSync(compile([row("email", "payload.profile.email"), row("leadSource", "payload.tags[1]")]), msg);
    should(out.record.leadSource).equal("t1");
  });

  it("concat joins with the separator and skips empty or missing parts", () => {
    const m = compile([
      row("email", "payload.profile.email"),
      row("title", "payload.profile.firstName, payload.profile.missing, payload.profile.lastName", {
        sourceType: "concat",
        separator: " / ",
        case: "proper",
      }),
      row("company", "payload.n,payload.profile.firstName", { sourceType: "concat", separator: "-" }),
    ]);
    const out = mapSync(m, msg);
    should(out.record).eql({ email: "a@x.com", title: "Ada / Lovelace", company: "7-ada" });
  });

  it("concat of an array part is a shape problem", () => {
    const out = mapSync(
      compile([
        row("email", "payload.profile.email"),
        row("title", "payload.tags, payload.n", { sourceType: "concat" }),
      ]),
      msg,
    );
    should(out.problems).have.length(1);
    should(out.problems[0]).containDeep({ field: "title", code: "shape" });
    should(out.problems[0].problem).match(/msg\.payload\.tags is an array/);
  });

  it("literal", () => {
    const out = mapSync(
      compile([row("email", "payload.profile.email"), row("leadSource", "Kaltura Events", { sourceType: "str" })]),
      msg,
    );
    should(out.record.leadSource).equal("Kaltura Events");
  });

  it("env var, through the hook or process.env", () => {
    const hooks: SourceHooks = { env: (n) => (n === "SOURCE" ? "from-hook" : undefined) };
    const m = compile(
      [row("email", "payload.profile.email"), row("leadSource", "SOURCE", { sourceType: "env" })],
      undefined,
      hooks,
    );
    should(mapSync(m, msg).record.leadSource).equal("from-hook");

    process.env.FIELD_MAPPER_TEST_ENV = "from-process";
    try {
      const m2 = compile([
        row("email", "payload.profile.email"),
        row("leadSource", "FIELD_MAPPER_TEST_ENV", { sourceType: "env" }),
      ]);
      should(mapSync(m2, msg).record.leadSource).equal("from-process");
    } finally {
      delete process.env.FIELD_MAPPER_TEST_ENV;
    }
  });

  it("env var not set: required → problem naming the variable", () => {
    const m = compile(
      [row("email", "payload.profile.email"), row("leadSource", "NOPE_NOT_SET", { sourceType: "env", required: true })],
      undefined,
      { env: () => undefined },
    );
    const out = mapSync(m, msg);
    should(out.problems).eql([
      {
        field: "leadSource",
        code: "required",
        problem: "required but empty: environment variable NOPE_NOT_SET is not set",
      },
    ]);
  });

  it("JSONata: prepared once through the hook, evaluated per message (async)", async () => {
    let prepared = 0;
    const hooks: SourceHooks = {
      jsonata: (expr) => {
        prepared++;
        if (expr.includes("(")) throw Object.assign(new Error("Syntax error"), { position: 3 });
        return async (m) => ((m as typeof msg).payload.profile as Record<string, string>)[expr];
      },
    };
    const m = compile(
      [row("email", "payload.profile.email"), row("firstName", "firstName", { sourceType: "jsonata", case: "upper" })],
      undefined,
      hooks,
    );
    should(m.async).be.true();
    const p = m.map(msg);
    should(p).be.instanceOf(Promise);
    should((await p).record).eql({ email: "a@x.com", firstName: "ADA" });
    await m.map(msg);
    should(prepared).equal(1);

    const errs = errorsOf([row("firstName", "$x(", { sourceType: "jsonata" })], undefined, hooks);
    should(errs[0]).match(/row 1 \(firstName\): invalid JSONata expression: Syntax error \(at 3\)/);
  });

  it("JSONata evaluation failure is a per-field problem", async () => {
    const hooks: SourceHooks = {
      jsonata: () => async () => {
        throw new Error("boom");
      },
    };
    const m = compile(
      [row("email", "payload.profile.email"), row("title", "x", { sourceType: "jsonata" })],
      undefined,
      hooks,
    );
    const out = await m.map(msg);
    should(out.problems).eql([{ field: "title", code: "source", problem: "JSONata expression failed: boom" }]);
  });

  it("a JSONata failure quoting a huge value is shortened in the problem", async () => {
    // JSONata puts the offending value in some messages ($number("<1 MB>"), $error(...)).
    const hooks: SourceHooks = {
      jsonata: () => async () => {
        throw new Error(`Unable to cast value to a number: "${"x".repeat(1_000_000)}"`);
      },
    };
    const m = compile(
      [row("email", "payload.profile.email"), row("title", "x", { sourceType: "jsonata" })],
      undefined,
      hooks,
    );
    const out = await m.map(msg);
    should(out.problems).have.length(1);
    should(out.problems[0].problem).startWith('JSONata expression failed: Unable to cast value to a number: "xxx');
    should(out.problems[0].problem.length).be.below(400);
  });

  it("a message without JSONata rows maps synchronously", () => {
    should(compile([row("email", "payload.profile.email")]).async).be.false();
  });
});

describe("field-mapping: required and default", () => {
  it("missing required fields are each reported with where the path stopped", () => {
    const m = compile(DEFAULT_ROWS);
    const out = mapSync(m, { payload: { profile: { email: "a@x.com", firstName: "   " } } });
    should(out.problems.map((p) => [p.field, p.code])).eql([
      ["firstName", "required"],
      ["lastName", "required"],
    ]);
    should(out.problems[0].problem).equal("required but empty: msg.payload.profile.firstName is empty");
    should(out.problems[1].problem).equal("required but empty: msg.payload.profile.lastName is missing");
  });

  it("payload not an object: clear reason per required field", () => {
    const out = mapSync(compile(DEFAULT_ROWS), { payload: "hello" });
    should(out.problems).have.length(3);
    for (const p of out.problems) should(p.problem).equal("required but empty: msg.payload is a string, not an object");
    const out2 = mapSync(compile(DEFAULT_ROWS), { payload: { profile: null } });
    should(out2.problems[0].problem).equal("required but empty: msg.payload.profile is null, not an object");
  });

  it("the default is used (as typed) when the value is empty; optional empty fields are left out", () => {
    const m = compile([
      row("email", "payload.email", { required: true }),
      row("company", "payload.company", { trim: true, case: "upper", default: "Unknown ltd" }),
      row("title", "payload.title", { trim: true }),
      row("city", "payload.city"),
    ]);
    const out = mapSync(m, { payload: { email: "a@x.com", company: "   ", title: "  ", city: "" } });
    should(out).eql({ record: { email: "a@x.com", company: "Unknown ltd" }, problems: [] });
  });

  it("whitespace-only counts as empty even without Trim, but a non-empty value keeps its spaces", () => {
    const m = compile([row("email", "payload.email"), row("firstName", "payload.f", { required: true })]);
    should(mapSync(m, { payload: { email: "a@x.com", f: " \t " } }).problems[0].code).equal("required");
    should(mapSync(m, { payload: { email: "a@x.com", f: " Ada " } }).record.firstName).equal(" Ada ");
  });

  it("a record with no value at all is refused", () => {
    const out = mapSync(compile([row("company", "payload.company")]), { payload: {} });
    should(out.problems).eql([
      { field: "(record)", code: "empty", problem: "no field has a value: the record would be empty" },
    ]);
  });
});

describe("field-mapping: email", () => {
  it("accepts ASCII addresses and refuses others", () => {
    for (const ok of ["a@x.com", "ada.lovelace@example.com", "qa+test@example.org", "o'neil@sub.example.co.uk"])
      should(isEmail(ok)).be.true(ok);
    for (const bad of [
      "",
      "a",
      "a@x",
      "a@@x.com",
      "a b@x.com",
      "@x.com",
      "a@.com.",
      "ada@exämple.com",
      "jöhn@x.com",
      "a..b@x.com",
      `${"a".repeat(250)}@x.com`,
    ]) {
      should(isEmail(bad)).be.false(bad);
    }
  });

  it("applies to the email target without metadata, with a reason per kind", () => {
    const m = compile([row("email", "payload.e")]);
    should(mapSync(m, { payload: { e: "jöhn@x.com" } }).problems[0]).eql({
      field: "email",
      code: "email",
      problem: "not a valid email address: Marketo accepts ASCII email addresses only",
      value: "jöhn@x.com",
    });
    should(mapSync(m, { payload: { e: "nope" } }).problems[0].problem).equal("not a valid email address");
    should(mapSync(m, { payload: { e: 42 } }).problems[0]).containDeep({
      code: "email",
      problem: "not a valid email address: expected text, got a number",
    });
  });

  it("applies to any field whose metadata says email", () => {
    const fields: TargetField[] = [
      { name: "email", dataType: "email", length: 255 },
      { name: "workEmail__c", dataType: "email", length: 255 },
    ];
    const out = mapSync(compile([row("email", "payload.e"), row("workEmail__c", "payload.w")], fields), {
      payload: { e: "a@x.com", w: "bad" },
    });
    should(out.problems).eql([
      { field: "workEmail__c", code: "email", problem: "not a valid email address", value: "bad" },
    ]);
  });
});

describe("field-mapping: coercion from target metadata", () => {
  const fields = targetFieldsFromDescribe([
    {
      name: "API Lead",
      fields: LEAD_FIELDS.map((f) => ({
        name: f.name,
        displayName: f.displayName,
        dataType: f.dataType,
        length: f.length,
        updateable: !f.readOnly,
      })),
    },
  ]);

  it("integer, float/currency, boolean, date, datetime", () => {
    const m = compile(
      [
        row("email", "payload.email"),
        row("leadScore", "payload.score"),
        row("numberOfEmployees", "payload.employees"),
        row("annualRevenue", "payload.revenue"),
        row("unsubscribed", "payload.unsub"),
        row("dateOfBirth", "payload.dob"),
      ],
      fields,
    );
    const out = mapSync(m, {
      payload: {
        email: "a@x.com",
        score: " 42 ",
        employees: 12,
        revenue: "1234.5",
        unsub: "TRUE",
        dob: "2026-12-08T15:00:00Z",
      },
    });
    should(out).eql({
      record: {
        email: "a@x.com",
        leadScore: 42,
        numberOfEmployees: 12,
        annualRevenue: 1234.5,
        unsubscribed: true,
        dateOfBirth: "2026-12-08",
      },
      problems: [],
    });
    should(coerceValue("0", "boolean")).eql({ ok: true, value: false });
    should(coerceValue(1, "boolean")).eql({ ok: true, value: true });
    should(coerceValue("2026-12-08T16:00:00+01:00", "datetime")).eql({ ok: true, value: "2026-12-08T15:00:00Z" });
    should(coerceValue("2024-02-29", "date")).eql({ ok: true, value: "2024-02-29" });
  });

  it("values that do not fit are each listed", () => {
    const m = compile(
      [
        row("email", "payload.email"),
        row("leadScore", "payload.score"),
        row("annualRevenue", "payload.revenue"),
        row("unsubscribed", "payload.unsub"),
        row("dateOfBirth", "payload.dob"),
        row("firstName", "payload.first"),
      ],
      fields,
    );
    const out = mapSync(m, {
      payload: {
        email: "a@x.com",
        score: "4.5",
        revenue: "lots",
        unsub: "maybe",
        dob: "2023-02-29",
        first: "x".repeat(256),
      },
    });
    should(out.problems.map((p) => [p.field, p.code])).eql([
      ["leadScore", "type"],
      ["annualRevenue", "type"],
      ["unsubscribed", "type"],
      ["dateOfBirth", "type"],
      ["firstName", "length"],
    ]);
    should(out.problems[4].problem).equal("too long: 256 characters, the field holds 255");
    should(String(out.problems[4].value)).match(/… \(256 characters\)$/);
    should(out.problems[0].value).equal("4.5");
  });

  it("numbers given to a text field become text; non-finite numbers are refused", () => {
    const m = compile(
      [row("email", "payload.email"), row("postalCode", "payload.zip"), row("title", "payload.t")],
      fields,
    );
    should(mapSync(m, { payload: { email: "a@x.com", zip: 10115 } }).record.postalCode).equal("10115");
    should(mapSync(m, { payload: { email: "a@x.com", t: Infinity } }).problems[0]).containDeep({
      field: "title",
      code: "type",
    });
  });

  it("without metadata values pass as given", () => {
    const out = mapSync(compile([row("email", "payload.email"), row("leadScore", "payload.score")]), {
      payload: { email: "a@x.com", score: "42" },
    });
    should(out.record.leadScore).equal("42");
  });

  it("a read-only target is a problem when it gets a value, and a warning at compile", () => {
    const c = compileMapping([row("email", "payload.email"), row("createdAt", "payload.when")], fields);
    should(c.ok).be.true();
    if (!c.ok) return;
    should(c.mapping.warnings.join()).match(/createdAt: read-only/);
    should(mapSync(c.mapping, { payload: { email: "a@x.com", when: "2026-01-01" } }).problems[0]).containDeep({
      field: "createdAt",
      code: "readOnly",
    });
    should(mapSync(c.mapping, { payload: { email: "a@x.com" } }).problems).eql([]);
  });

  it("an unknown target is a warning, not an error", () => {
    const c = compileMapping([row("email", "payload.email"), row("shoeSize__c", "payload.s")], fields);
    should(c.ok && c.mapping.warnings.some((w) => w.startsWith("shoeSize__c: not among"))).be.true();
  });
});

describe("field-mapping: bad input never crashes", () => {
  const m = compile([...DEFAULT_ROWS, row("title", "payload.profile.title")]);

  it("arrays and objects where text is expected are shape problems", () => {
    const out = mapSync(m, {
      payload: { profile: { email: ["a@x.com"], firstName: { x: 1 }, lastName: "L", title: [] } },
    });
    should(out.problems.map((p) => [p.field, p.code])).eql([
      ["email", "shape"],
      ["firstName", "shape"],
      ["title", "shape"],
    ]);
    should(out.problems[0].problem).equal(
      "msg.payload.profile.email is an array; expected a single value (text, number or boolean)",
    );
  });

  it("a 1 MB string is refused before any transform, with a short value", () => {
    const huge = "a".repeat(1024 * 1024);
    const t0 = Date.now();
    const out = mapSync(m, { payload: { profile: { email: "a@x.com", firstName: huge, lastName: "L" } } });
    should(Date.now() - t0).be.below(500);
    should(out.problems).have.length(1);
    should(out.problems[0]).containDeep({ field: "firstName", code: "length" });
    should(String(out.problems[0].value).length).be.below(200);
    const out2 = mapSync(m, { payload: { profile: { email: `${huge}@x.com`, firstName: "a", lastName: "L" } } });
    should(out2.problems[0]).containDeep({ field: "email", code: "length" });
  });

  it("__proto__ / constructor in the source are not followed", () => {
    const payload = JSON.parse(
      '{"profile": {"__proto__": {"email": "evil@x.com"}, "firstName": "a", "lastName": "b"}}',
    );
    const out = mapSync(m, { payload });
    should(out.problems.map((p) => p.field)).eql(["email"]);
    should(({} as Record<string, unknown>).email).be.undefined();
    // inherited properties are not read either
    const m2 = compile([row("email", "payload.toString")]);
    should(mapSync(m2, { payload: {} }).problems[0].code).equal("empty");
  });

  it("__proto__ / constructor as a target or in a path are refused at compile", () => {
    should(errorsOf([row("__proto__", "payload.x")])[0]).match(/not allowed as a field name/);
    should(errorsOf([row("constructor", "payload.x")])[0]).match(/not allowed as a field name/);
    should(errorsOf([row("email", "payload.__proto__.x")])[0]).match(/not allowed/);
    should(errorsOf([row("email", "payload.a, constructor", { sourceType: "concat" })])[0]).match(/not allowed/);
    should(errorsOf([row("email", "x")], [{ name: "__proto__", dataType: "string" }])[0]).match(
      /not an allowed field name/,
    );
  });

  it("msg itself not an object, or a null payload", () => {
    should(mapSync(m, null).problems[0].problem).equal("required but empty: msg is not an object");
    should(mapSync(m, { payload: null }).problems[0].problem).equal(
      "required but empty: msg.payload is null, not an object",
    );
  });

  it("invalid rows are all listed", () => {
    const errs = errorsOf([
      row("", "payload.x"),
      row("first name", "payload.x"),
      row("email", "payload.x"),
      row("email", "payload.y"),
      { target: "title", sourceType: "shell", source: "rm" },
      { target: "city", sourceType: "msg", source: "payload.c", case: "title" },
      { target: "state", sourceType: "msg", source: "payload.s", trim: "yes" },
      "nope",
    ]);
    should(errs).have.length(7);
    should(errs.join("\n"))
      .match(/row 1: the target field is empty/)
      .match(/row 2 \(first name\)/)
      .match(/row 4 \(email\): the target field is mapped twice/)
      .match(/unknown source type "shell"/)
      .match(/case must be one of/)
      .match(/trim must be true or false/)
      .match(/row 8 is not an object/);
    should(errorsOf("rows")).eql(["rows must be an array of mapping rows"]);
    should(errorsOf([])).eql(["there are no mapping rows"]);
  });
});

describe("field-mapping: reason, preview body, describe", () => {
  it("problemsReason lists every problem on one line", () => {
    should(
      problemsReason([
        { field: "email", code: "email", problem: "not a valid email address" },
        { field: "firstName", code: "required", problem: "required but empty: x" },
      ]),
    ).equal("2 problems: email: not a valid email address; firstName: required but empty: x");
  });

  it("parsePreviewBody validates the route input", () => {
    should(parsePreviewBody(null)).containDeep({ ok: false });
    should(parsePreviewBody([1])).containDeep({ ok: false });
    should(parsePreviewBody({ rows: "x", msg: {} })).containDeep({
      ok: false,
      error: "rows must be an array of mapping rows",
    });
    should(parsePreviewBody({ rows: [], msg: "{bad json" })).containDeep({ ok: false });
    should((parsePreviewBody({ rows: [], msg: "{bad json" }) as { error: string }).error).match(/not valid JSON/);
    should(parsePreviewBody({ rows: [], msg: "[1,2]" })).containDeep({ ok: false });
    should(parsePreviewBody({ rows: [], msg: 5 })).containDeep({ ok: false });
    should(parsePreviewBody({ rows: [], targetFields: "x", msg: {} })).containDeep({ ok: false });
    should(parsePreviewBody({ rows: [], msg: '{"payload":{}}', id: "n1" })).eql({
      ok: true,
      request: { rows: [], targetFields: undefined, msg: { payload: {} }, id: "n1" },
    });
  });

  it("targetFieldsFromDescribe reads describe2 and legacy describe", () => {
    should(
      targetFieldsFromDescribe([
        {
          name: "API Lead",
          fields: [
            { name: "email", displayName: "Email Address", dataType: "email", length: 255, updateable: true },
            { name: "id", displayName: "Id", dataType: "integer", updateable: false },
            { name: 3 },
          ],
        },
      ]),
    ).eql([
      { name: "email", displayName: "Email Address", dataType: "email", length: 255 },
      { name: "id", displayName: "Id", dataType: "integer", readOnly: true },
    ]);
    should(
      targetFieldsFromDescribe([
        {
          id: 2,
          displayName: "Company Name",
          dataType: "string",
          length: 255,
          rest: { name: "company", readOnly: false },
        },
        { id: 3, displayName: "SOAP only", dataType: "string" },
      ]),
    ).eql([{ name: "company", displayName: "Company Name", dataType: "string", length: 255 }]);
    should(targetFieldsFromDescribe("nope")).eql([]);
  });

  it("default rows and built-in targets only name fields the emulator's lead describe has", () => {
    const emulator = new Map(LEAD_FIELDS.map((f) => [f.name, f]));
    for (const r of DEFAULT_ROWS) should(emulator.has(r.target)).be.true(r.target);
    for (const f of BUILTIN_TARGET_FIELDS) {
      const e = emulator.get(f.name);
      if (e) should(f.dataType).equal(e.dataType, f.name);
    }
    should(compileMapping(DEFAULT_ROWS, BUILTIN_TARGET_FIELDS).ok).be.true();
  });

  it("the rows default in nodes/field-mapper.html is DEFAULT_ROWS", () => {
    const html = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "field-mapper.html"), "utf8");
    const block = /rows: \{\s*value: (\[[\s\S]*?\]),\s*validate/.exec(html);
    should.exist(block);

    const rows = new Function(`return ${(block as RegExpExecArray)[1]};`)() as MappingRow[];
    should(rows).eql(DEFAULT_ROWS.map((r) => ({ ...r })));
  });
});

describe("field-mapping: fixtures with the default rows", () => {
  const m = compile(DEFAULT_ROWS, BUILTIN_TARGET_FIELDS);

  it("Kaltura sample → clean record", () => {
    should(mapSync(m, kaltura[0])).eql({
      record: {
        email: "ada.lovelace@example.com",
        firstName: "Ada",
        lastName: "Lovelace",
        company: "analytical engines ltd",
        registrationCode: "R-1001",
      },
      problems: [],
    });
  });

  it("Certain sample → clean record", () => {
    should(mapSync(m, certain[0])).eql({
      record: {
        email: "grace.hopper@example.org",
        firstName: "Grace",
        lastName: "Hopper",
        company: "US Navy",
        registrationCode: "C-55012",
      },
      problems: [],
    });
  });

  it("every fixture maps without problems", () => {
    for (const f of [...kaltura, ...certain]) should(mapSync(m, f).problems).eql([], JSON.stringify(f).slice(0, 80));
  });
});

describe("field-mapping: update policies", () => {
  it("lists the rows that do not overwrite, and refuses a bad policy or one on the email", () => {
    const m = compile([
      row("email", "payload.profile.email"),
      row("company", "payload.profile.company", { update: "ifBlank" }),
      row("title", "payload.profile.title", { update: "never" }),
      row("firstName", "payload.profile.firstName", { update: "overwrite" }),
    ]);
    m.updatePolicies.should.eql({ company: "ifBlank", title: "never" });
    compile([row("email", "payload.profile.email")]).updatePolicies.should.eql({});
    errorsOf([
      row("email", "payload.profile.email"),
      row("company", "payload.profile.company", { update: "sometimes" as never }),
    ])[0].should.match(/row 2 \(company\): update must be one of overwrite, ifBlank, never/);
    errorsOf([row("email", "payload.profile.email", { update: "never" })])[0].should.match(
      /the email finds the lead, so it is always written/,
    );
  });
});
