/** The JSON error answer of the admin routes in src/lib/node-kit/admin-routes.ts. */
import "should";
import express from "express";
import http from "http";
import type { AddressInfo } from "net";
import type { NodeAPI } from "node-red";
import { answerErrorsInJson, jsonErrorAnswer } from "../../src/lib/node-kit/admin-routes";

describe("node-kit admin routes", () => {
  it("a malformed body is a validation error naming JSON", () => {
    const parse = Object.assign(new Error("Unexpected token"), { status: 400, type: "entity.parse.failed" });
    jsonErrorAnswer(parse).should.eql({
      status: 400,
      body: { error: "the body is not valid JSON: Unexpected token", category: "validation" },
    });
  });

  it("keeps an HTTP error status and turns anything else into 500", () => {
    jsonErrorAnswer(Object.assign(new Error("too large"), { statusCode: 413 })).status.should.equal(413);
    jsonErrorAnswer(Object.assign(new Error("odd"), { status: 302 })).status.should.equal(500);
    jsonErrorAnswer("text").should.eql({ status: 500, body: { error: "bad request", category: "validation" } });
  });

  it("answers a bad JSON body under the prefix in JSON, not an HTML page", async () => {
    const app = express();
    app.use(express.json());
    answerErrorsInJson({ httpAdmin: app } as unknown as NodeAPI, "kit-test");
    app.post("/kit-test/x", (_req, res) => void res.json({ ok: true }));
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/kit-test/x`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{not json",
      });
      res.status.should.equal(400);
      const body = (await res.json()) as { error: string; category: string };
      body.category.should.equal("validation");
      body.error.should.startWith("the body is not valid JSON: ");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
