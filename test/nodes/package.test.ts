/**
 * What the Flow Library scorecard (node-red-dev validate) and Node-RED's loader require of the
 * package, checked offline: the scorecard itself needs the network, CI here has none.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import { editorDefinition } from "../helpers/editor-defaults";

const root = path.join(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const nodes: Record<string, string> = pkg["node-red"].nodes;
/** The nodes built on src/lib/node-kit/action-node.ts, whose status keys live in each node's catalog. */
const ACTION_NODES = ["marketo-lead", "marketo-program-status", "marketo-custom-activity"];
/**
 * Names Node-RED keeps on a node object, in the editor (red.js: RED.nodes import/convertNode,
 * RED.view, RED.editor) or at run time (Node.js, flows/util.js). A setting of the same name is
 * overwritten: the editor stores the shown status in `status`, and the next Deploy saves it.
 */
const RESERVED = [
  "id", "type", "z", "g", "x", "y", "w", "h", "l", "d", "wires", "info", "icon", "status",
  "changed", "moved", "dirty", "valid", "validationErrors", "selected", "users", "credentials",
  "inputs", "outputs", "inputLabels", "outputLabels", "_def", "_config", "_orig", "_flow",
  "_alias", "_closeCallbacks", "_inputCallback", "_inputCallbacks", "_expectedDoneCount",
  "_wireCount", "_wire", "ports", "resize", "outerHeight", "env", "nodes", "style",
];

describe("package", () => {
  it("has the scorecard's package.json fields", () => {
    pkg.name.should.match(/^@[a-z0-9-]+\/[a-z0-9-]+$/); // P04: a scoped name
    should(pkg.license).be.a.String(); // P01
    should(pkg.repository ?? pkg.bugs).be.ok(); // P03
    pkg.keywords.should.containEql("node-red"); // P05
    pkg["node-red"].version.should.equal(">=3.0.0"); // P06: satisfied by the latest Node-RED
    pkg.engines.node.should.equal(">=20"); // P07
    Object.keys(pkg.dependencies).length.should.be.belowOrEqual(6); // D01
  });

  it("ships only built output, the shared editor script, examples and docs", () => {
    pkg.files.should.eql(["nodes", "resources", "examples", "README.md", "LICENSE"]);
    fs.existsSync(path.join(root, "LICENSE")).should.be.true();
  });

  it("ships no compiled file without a source: the build starts from a clean slate", () => {
    const built = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) return e.name === "icons" ? [] : built(full);
        return e.name.endsWith(".js") ? [path.relative(path.join(root, "nodes"), full)] : [];
      });
    const orphans = built(path.join(root, "nodes")).filter(
      (js) => !fs.existsSync(path.join(root, "src", js.replace(/\.js$/, ".ts"))),
    );
    orphans.should.eql([]);
  });

  for (const [type, file] of Object.entries(nodes)) {
    describe(`node ${type}`, () => {
      const js = path.join(root, file);
      const html = js.replace(/\.js$/, ".html");
      const base = path.basename(file, ".js");

      it("is built beside its hand-written editor file", () => {
        fs.existsSync(js).should.be.true();
        fs.existsSync(html).should.be.true();
        require(js).should.be.a.Function(); // `export =`, so Node-RED and the test helper load it as is
      });

      it("registers its type with literal definitions the scorecard can parse", () => {
        const text = fs.readFileSync(html, "utf8");
        text.should.match(new RegExp(`RED\\.nodes\\.registerType\\(\\s*["']${type}["']\\s*,\\s*\\{`)); // N01
        text.should.match(new RegExp(`data-template-name=["']${type}["']`));
        text.should.match(new RegExp(`data-help-name=["']${type}["']`));
      });

      it("has a message catalog and an icon of its own", () => {
        const catalog = path.join(path.dirname(js), "locales", "en-US", `${base}.json`);
        JSON.parse(fs.readFileSync(catalog, "utf8")).should.be.an.Object();
        const text = fs.readFileSync(html, "utf8");
        if (/category\s*:\s*["']config["']/.test(text)) return; // config nodes have no palette entry
        const icon = /icon\s*:\s*["']([^"']+)["']/.exec(text);
        should(icon).not.be.null();
        if (!icon![1].startsWith("font-awesome/")) {
          fs.existsSync(path.join(path.dirname(js), "icons", icon![1])).should.be.true();
        }
      });

      if (ACTION_NODES.includes(type)) {
        it("names every status the shared action-node glue shows", () => {
          const catalog = JSON.parse(fs.readFileSync(path.join(path.dirname(js), "locales", "en-US", `${base}.json`), "utf8"));
          const status = catalog[type]?.status ?? {};
          for (const key of ["sent", "failed", "queued", "rateLimited", "quota", "authFailed", "retrying", "noConfig", "badConfig"]) {
            should(status[key]).be.a.String().and.not.be.empty();
          }
          status.quota.should.containEql("__time__");
        });
      }
    });
  }

  it("gives no setting or credential a name Node-RED uses on a node object", () => {
    const clashes: string[] = [];
    for (const type of Object.keys(nodes)) {
      const def = editorDefinition(type);
      for (const name of [...Object.keys(def.defaults), ...Object.keys(def.credentials ?? {})]) {
        // A single character is reserved too (properties.md).
        if (RESERVED.includes(name) || name.length === 1) clashes.push(`${type}.${name}`);
      }
    }
    clashes.should.eql([]);
  });

  it("lists the nodes in flow order, in two colours: one for the nodes that shape messages, one for those that call Marketo", () => {
    Object.keys(nodes).should.eql(["marketo-config", "tag-filter", "field-mapper", "marketo-lead", "status-mapper", ...ACTION_NODES.slice(1), "retry-queue"]);
    const colour = (type: string): unknown => editorDefinition(type).color;
    const calling = new Set(ACTION_NODES.map(colour));
    const shaping = new Set(["tag-filter", "field-mapper", "status-mapper", "retry-queue"].map(colour));
    calling.size.should.equal(1);
    shaping.size.should.equal(1);
    should([...calling][0]).not.equal([...shaping][0]);
  });

  it("uses only the design's eight type names, and has the Marketo nodes", () => {
    const eight = [...ACTION_NODES, "field-mapper", "marketo-config", "retry-queue", "status-mapper", "tag-filter"];
    for (const type of Object.keys(nodes)) eight.should.containEql(type);
    Object.keys(nodes).should.containDeep(["marketo-config", ...ACTION_NODES]);
  });
});
