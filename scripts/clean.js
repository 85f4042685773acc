// Builds start from a clean slate: tsc writes beside the hand-written .html and locales in
// nodes/, so a .js left from a deleted or renamed source would otherwise ship and load.
const fs = require("fs");
const path = require("path");
const nodes = path.join(__dirname, "..", "nodes");

const BUILT = /\.(js|js\.map|d\.ts)$/;

function clean(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      clean(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
    } else if (BUILT.test(entry.name)) {
      fs.rmSync(full);
    }
  }
}

clean(nodes);
// Icons are copied in by postbuild.js, so the copy is build output too.
fs.rmSync(path.join(nodes, "icons"), { recursive: true, force: true });
