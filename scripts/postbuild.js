// Finishes what tsc cannot do on its own.
const fs = require("fs");
const path = require("path");
const root = path.join(__dirname, "..");

// Node-RED looks for icons only in an icons/ folder beside each node's .js, so the
// source SVGs in icons/ are copied next to the tsc output in nodes/.
fs.rmSync(path.join(root, "nodes", "icons"), { recursive: true, force: true });
fs.cpSync(path.join(root, "icons"), path.join(root, "nodes", "icons"), { recursive: true });

// `npx marketo-emulator` runs the package's own bin from a fresh clone; npm executes it
// directly, so the compiled file needs its executable bit (tsc writes 0644).
const cli = path.join(root, "nodes", "emulator", "cli.js");
if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
