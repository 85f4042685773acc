// Node-RED looks for icons only in an icons/ folder beside each node's .js, so the
// source SVGs in icons/ are copied next to the tsc output in nodes/.
const fs = require("fs");
const path = require("path");
const root = path.join(__dirname, "..");
fs.rmSync(path.join(root, "nodes", "icons"), { recursive: true, force: true });
fs.cpSync(path.join(root, "icons"), path.join(root, "nodes", "icons"), { recursive: true });
