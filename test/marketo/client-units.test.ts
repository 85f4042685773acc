import should from "should";
import {
  MarketoError,
  RowMatcher,
  apiUrl,
  backoffDelay,
  chicagoDay,
  classify,
  concurrencyPause,
  nextChicagoMidnight,
  normaliseEndpoint,
  parseCsv,
  rateLimitPause,
  splitCsv,
  toCsv,
} from "../../nodes/lib/marketo";

describe("client: endpoint normalisation", () => {
  const origin = "https://123-abc-456.mktorest.com";
  for (const [input, suffix] of [
    ["https://123-ABC-456.mktorest.com", undefined],
    ["https://123-ABC-456.mktorest.com/", undefined],
    ["  https://123-abc-456.mktorest.com/rest  ", "/rest"],
    ["HTTPS://123-ABC-456.MKTOREST.COM/rest/", "/rest"],
    ["https://123-abc-456.mktorest.com/identity", "/identity"],
    ["https://123-abc-456.mktorest.com/identity/", "/identity"],
    ["https://123-abc-456.mktorest.com/REST", "/rest"],
  ] as const) {
    it(`accepts ${JSON.stringify(input)}`, () => {
      const n = normaliseEndpoint(input);
      n.origin.should.equal(origin);
      should(n.pastedSuffix).equal(suffix);
    });
  }
  it("keeps a port and http for local emulators", () => {
    normaliseEndpoint("http://127.0.0.1:8080/rest").should.eql({
      origin: "http://127.0.0.1:8080",
      pastedSuffix: "/rest",
    });
  });
  for (const bad of [
    "",
    "   ",
    "123-ABC-456.mktorest.com",
    "ftp://x.mktorest.com",
    "https://x.mktorest.com/rest?x=1",
    "https://x.mktorest.com/rest?",
    "https://x.mktorest.com/rest#frag",
    "https://x.mktorest.com/rest/v1",
    "https://x.mktorest.com/bulk",
    "https://user:pw@x.mktorest.com",
  ]) {
    it(`rejects ${JSON.stringify(bad)} with a validation error saying what to paste`, () => {
      try {
        normaliseEndpoint(bad);
      } catch (e) {
        (e as MarketoError).should.be.instanceOf(MarketoError);
        (e as MarketoError).category.should.equal("validation");
        (e as MarketoError).message.should.match(/Web Services/);
        return;
      }
      throw new Error("accepted");
    });
  }
  it("never produces // when joining", () => {
    apiUrl("https://x.com/", "/rest/v1/leads.json").should.equal("https://x.com/rest/v1/leads.json");
    apiUrl("https://x.com", "bulk//v1/leads.json").should.equal("https://x.com/bulk/v1/leads.json");
  });
});

describe("client: error classification", () => {
  const expect: Record<string, [string, string]> = {
    "401": ["auth", "permanent"],
    "413": ["validation", "permanent"],
    "414": ["validation", "permanent"],
    "500": ["marketo", "retry"],
    "502": ["network", "retry"],
    "600": ["auth", "reauth"],
    "601": ["auth", "reauth"],
    "602": ["auth", "reauth"],
    "603": ["auth", "permanent"],
    "604": ["marketo", "retry"],
    "605": ["validation", "permanent"],
    "606": ["rate-limit", "wait-window"],
    "607": ["quota", "wait-day"],
    "608": ["marketo", "retry"],
    "609": ["validation", "permanent"],
    "610": ["validation", "permanent"],
    "611": ["marketo", "retry"],
    "612": ["validation", "permanent"],
    "613": ["validation", "permanent"],
    "614": ["marketo", "retry"],
    "615": ["rate-limit", "wait-window"],
    "616": ["validation", "permanent"],
    "701": ["validation", "permanent"],
    "702": ["marketo", "permanent"],
    "703": ["validation", "permanent"],
    "704": ["validation", "permanent"],
    "709": ["validation", "permanent"],
    "710": ["validation", "permanent"],
    "711": ["validation", "permanent"],
    "712": ["validation", "permanent"],
    "713": ["marketo", "retry"],
    "714": ["validation", "permanent"],
    "715": ["marketo", "permanent"],
    "716": ["marketo", "permanent"],
    "717": ["marketo", "permanent"],
    "718": ["validation", "permanent"],
    "719": ["marketo", "retry"],
    "1014": ["marketo", "retry"],
    "1015": ["validation", "permanent"],
    "1016": ["marketo", "retry"],
    "1017": ["validation", "permanent"],
    "1018": ["validation", "permanent"],
    "1019": ["marketo", "retry"],
    "1020": ["quota", "wait-day"],
    "1021": ["validation", "permanent"],
    "1022": ["marketo", "permanent"],
    "1025": ["validation", "permanent"],
    "1026": ["validation", "permanent"],
    "1027": ["validation", "permanent"],
    "1028": ["validation", "permanent"],
    "1035": ["validation", "permanent"],
    "1036": ["validation", "permanent"],
    "1037": ["marketo", "permanent"],
    "1042": ["validation", "permanent"],
    "1048": ["marketo", "permanent"],
    "1049": ["validation", "permanent"],
    "1076": ["validation", "permanent"],
    "1077": ["validation", "permanent"],
    "1078": ["validation", "permanent"],
    "1079": ["validation", "permanent"],
    "1080": ["validation", "permanent"],
  };
  for (let code = 1001; code <= 1013; code++) expect[String(code)] = ["validation", "permanent"];
  for (const [code, [category, action]] of Object.entries(expect)) {
    it(`${code} → ${category}/${action}`, () => {
      const k = classify(code);
      k.category.should.equal(category);
      k.action.should.equal(action);
      k.retryable.should.equal(action !== "permanent");
    });
  }
  it("1029 is split by message", () => {
    classify("1029", "Export daily quota 500MB exceeded").should.containEql({ category: "quota", action: "wait-day" });
    classify("1029", "Too many jobs (10) in queue").should.containEql({ category: "marketo", action: "retry" });
    const q = classify("1029", "Job already queued");
    q.should.containEql({ action: "permanent" });
    should(q.benign).be.true();
  });
  it("benign codes are flagged", () => {
    should(classify("1037").benign).be.true();
    should(classify("1015").benign).be.true();
    should(classify("1004").benign).be.undefined();
  });
  for (const code of ["ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EPIPE", "EAI_AGAIN"]) {
    it(`${code} → network/retry`, () =>
      classify(code).should.containEql({ category: "network", action: "retry", retryable: true }));
  }
  it("socket hang up and client timeouts → network", () => {
    classify("", "socket hang up").category.should.equal("network");
    classify("ERR_X", "timeout of 100ms exceeded").category.should.equal("network");
  });
  it("unknown codes: 7xx/1xxx permanent marketo, 5xx retry", () => {
    classify("799").should.containEql({ category: "marketo", action: "permanent" });
    classify("1050").should.containEql({ category: "marketo", action: "permanent" });
    classify("1999").should.containEql({ category: "marketo", action: "permanent" });
    classify("599").should.containEql({ action: "retry", retryable: true });
    classify("503").should.containEql({ category: "network", action: "retry" });
  });
  it("MarketoError.toJSON has exactly the documented fields", () => {
    const e = new MarketoError({
      code: "606",
      message: "m",
      category: "rate-limit",
      action: "wait-window",
      retryable: true,
      requestId: "r",
      httpStatus: 200,
      operation: "syncLeads",
    });
    Object.keys(e.toJSON())
      .sort()
      .should.eql(["action", "category", "code", "httpStatus", "message", "operation", "requestId", "retryable"]);
    Object.keys(
      new MarketoError({ code: "1", message: "m", category: "marketo", action: "retry", retryable: true }).toJSON(),
    )
      .sort()
      .should.eql(["action", "category", "code", "message", "retryable"]);
  });
});

describe("client: backoff bounds", () => {
  it("full jitter stays within [0, min(max, base·2^(n-1))]", () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      backoffDelay(attempt, 1000, 60_000, () => 0).should.equal(0);
      backoffDelay(attempt, 1000, 60_000, () => 0.999999).should.be.within(ceiling - 1, ceiling);
      for (let i = 0; i < 50; i++) backoffDelay(attempt, 1000, 60_000).should.be.within(0, ceiling);
    }
  });
  it("606 pause starts near window/4 and never exceeds the window", () => {
    rateLimitPause(1, 20_000, () => 0).should.equal(4000);
    rateLimitPause(1, 20_000, () => 1).should.equal(6000);
    rateLimitPause(2, 20_000, () => 0.5).should.equal(10_000);
    for (let n = 1; n < 12; n++) rateLimitPause(n, 20_000).should.be.within(4000, 20_000);
    rateLimitPause(9, 20_000, () => 0).should.equal(16_000);
  });
  it("615 pause is 1–3 s", () => {
    concurrencyPause(() => 0).should.equal(1000);
    concurrencyPause(() => 1).should.equal(3000);
  });
});

describe("client: midnight America/Chicago", () => {
  const cases: Array<[string, string]> = [
    // CST (UTC-6) in winter
    ["2026-01-15T12:00:00Z", "2026-01-16T06:00:00.000Z"],
    // CDT (UTC-5) in summer
    ["2026-07-04T03:00:00Z", "2026-07-04T05:00:00.000Z"],
    ["2026-07-04T05:00:00Z", "2026-07-05T05:00:00.000Z"],
    // Spring forward: Sun 8 Mar 2026 02:00 CST → 03:00 CDT. Before: 7 Mar 20:00 CST.
    ["2026-03-08T02:00:00Z", "2026-03-08T06:00:00.000Z"],
    ["2026-03-08T07:00:00Z", "2026-03-09T05:00:00.000Z"],
    // Fall back: Sun 1 Nov 2026 02:00 CDT → 01:00 CST.
    ["2026-10-31T23:00:00Z", "2026-11-01T05:00:00.000Z"],
    ["2026-11-01T05:30:00Z", "2026-11-02T06:00:00.000Z"],
    // Year end
    ["2026-12-31T23:59:00Z", "2027-01-01T06:00:00.000Z"],
  ];
  for (const [now, next] of cases) {
    it(`${now} → ${next}`, () => nextChicagoMidnight(new Date(now)).toISOString().should.equal(next));
  }
  it("exactly midnight moves to the next day", () => {
    nextChicagoMidnight(new Date("2026-01-16T06:00:00Z")).toISOString().should.equal("2026-01-17T06:00:00.000Z");
  });
  it("names the quota day in Chicago", () => {
    chicagoDay(new Date("2026-01-16T05:59:59Z")).should.equal("2026-01-15");
    chicagoDay(new Date("2026-01-16T06:00:00Z")).should.equal("2026-01-16");
  });
});

describe("client: CSV", () => {
  const rows = [
    { email: "a@x.com", firstName: 'Ann, "the" first', score: 3, note: "line1\nline2" },
    { email: "b@x.com", firstName: null, score: undefined, extra: true },
    { email: "ç@x.com", firstName: "Çedille" },
  ];
  it("round-trips values with commas, quotes, newlines and unicode", () => {
    const parsed = parseCsv(toCsv(rows));
    parsed.columns.should.eql(["email", "firstName", "score", "note", "extra"]);
    parsed.rows[0].should.eql({
      email: "a@x.com",
      firstName: 'Ann, "the" first',
      score: "3",
      note: "line1\nline2",
      extra: "",
    });
    parsed.rows[1].should.containEql({ email: "b@x.com", firstName: "", extra: "true" });
    parsed.rows[2].firstName.should.equal("Çedille");
  });
  it("splits into files under the byte limit, each with the header", () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ email: `user${i}@example.com`, firstName: "x".repeat(50) }));
    const files = splitCsv(many, 10_000);
    files.length.should.be.above(5);
    files.flatMap((f) => f.indexes).should.eql(many.map((_, i) => i));
    for (const f of files) {
      Buffer.byteLength(f.csv).should.be.belowOrEqual(10_000);
      f.csv.startsWith("email,firstName\n").should.be.true();
      parseCsv(f.csv).rows.length.should.equal(f.indexes.length);
    }
  });
  it("matches failure rows back to input rows by content, not position", () => {
    const input = [
      { email: "a@x.com", score: "1" },
      { email: "b@x.com", score: "zz" },
      { email: "c@x.com", score: "2" },
      { email: "b@x.com", score: "zz" },
    ];
    // The matcher gets the whole input and the indexes of the rows that went into this job.
    const all: Array<Record<string, string>> = [
      ...Array.from({ length: 10 }, () => ({ email: "other@x.com", score: "0" })),
      ...input,
    ];
    const m = new RowMatcher([10, 11, 12, 13], all, ["email", "score"]);
    const failures =
      "email,score,Import Failure Reason\nB@X.COM ,zz,Invalid data type in field score\nb@x.com,zz,Invalid data type in field score\n";
    const found = m.match(failures);
    found
      .map((f) => f.index)
      .sort()
      .should.eql([11, 13]);
    found[0].reason.should.equal("Invalid data type in field score");
    m.unmatched.should.equal(0);
    m.match("email,score,Import Failure Reason\nnobody@x.com,1,x\n").should.eql([]);
    m.unmatched.should.equal(1);
  });
});
