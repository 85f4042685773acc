/** Request parsing helpers used by the transport: multipart (bulk), media types, bearer tokens. */
import "should";
import { bearerToken, mediaType, parseMultipart } from "../../nodes/emulator/requestBody";

describe("emulator request parsing", () => {
  it("parses multipart/form-data with the platform parser", async () => {
    const form = new FormData();
    form.append("format", "csv");
    form.append("file", new Blob(["email,firstName\na@example.com,Ann\n"], { type: "text/csv" }), "leads.csv");
    const encoded = new Request("http://x/", { method: "POST", body: form });
    const type = encoded.headers.get("content-type")!;
    const parsed = await parseMultipart(Buffer.from(await encoded.arrayBuffer()), type);
    parsed.get("format")!.should.equal("csv");
    const file = parsed.get("file") as File;
    file.name.should.equal("leads.csv");
    (await file.text()).should.equal("email,firstName\na@example.com,Ann\n");
  });

  it("rejects a malformed multipart body", async () => {
    await parseMultipart(Buffer.from("not multipart"), "multipart/form-data; boundary=xyz").should.be.rejected();
  });

  it("reads media types and bearer tokens", () => {
    mediaType("Application/JSON; charset=utf-8")!.should.equal("application/json");
    (mediaType(undefined) === undefined).should.be.true();
    bearerToken("Bearer abc:ab")!.should.equal("abc:ab");
    bearerToken("bearer  abc:ab ")!.should.equal("abc:ab");
    (bearerToken("Basic xyz") === undefined).should.be.true();
  });
});
