#!/usr/bin/env bash
# The Node-RED suites against node-red 5.x on Node 22, so the package is known to load and work on
# the current Node-RED as well as on the 4.1 the repo develops on (Node-RED 5 refuses Node < 22.9).
#
# Both come from the npm registry (the `node` package ships a Node binary). They go into a scratch
# folder with a copy of the working tree: the tests find Node-RED with require.resolve("node-red")
# from the test files, and a real Node-RED runs from node_modules/node-red with process.execPath,
# so only a copy with its own node_modules, run by Node 22, makes all of them pick Node-RED 5 —
# without touching the repo's package.json, lock file or node_modules.
#
# Last line: "tests (node-red 5): N passed, N failed"; exit status is mocha's.
# NR5_NODE (default 22) and NR5_NODE_RED (default 5) choose the versions; NR5_KEEP=1 keeps the copy.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
started=$SECONDS
scratch="$(mktemp -d "${TMPDIR:-/tmp}/nr5-marketo.XXXXXX")"
log="$scratch/mocha.log"
cleanup() { if [ "${NR5_KEEP:-}" = 1 ]; then echo "node-red 5: kept $scratch"; else rm -rf "$scratch"; fi; }
trap cleanup EXIT
npm_quiet=(--no-audit --no-fund --loglevel=error)

# Node 22 first on PATH: npm (#!/usr/bin/env node), tsc, mocha and the Node-RED children all run on it.
npm install --prefix "$scratch/runtime" "${npm_quiet[@]}" "node@${NR5_NODE:-22}" >/dev/null
export PATH="$scratch/runtime/node_modules/node/bin:$PATH"
case "$(node --version)" in
  "v${NR5_NODE:-22}".*) ;;
  *) echo "node-red 5: expected Node ${NR5_NODE:-22}, got $(node --version) from $(command -v node)" >&2; exit 1 ;;
esac

# The working tree as git sees it (tracked and new files, not ignored ones; deleted ones skipped).
copy="$scratch/package"
mkdir -p "$copy"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$copy"

cd "$copy"
npm ci "${npm_quiet[@]}" >/dev/null
# --no-save: the copy keeps the repo's package.json, which test/nodes/package.test.ts reads.
npm install --no-save "${npm_quiet[@]}" "node-red@${NR5_NODE_RED:-5}" >/dev/null
nr_version="$(node -p 'require("node-red/package.json").version')"
case "$nr_version" in
  "${NR5_NODE_RED:-5}".*) ;;
  *) echo "node-red 5: expected node-red ${NR5_NODE_RED:-5}.x in the copy, got $nr_version" >&2; exit 1 ;;
esac
npm run build --silent
# What a real Node-RED in the copy reports of itself, on the Node the tests run on.
echo "node-red 5: $(node node_modules/node-red/red.js --version | head -2 | paste -sd ' '), from $(command -v node); setup $((SECONDS - started)) s"

# Every suite that loads the nodes into Node-RED (the test helper, or a real Node-RED process,
# the browser suites included),
# and the package checks; the rest do not touch Node-RED. The options mirror .mocharc.json,
# whose spec list would otherwise be added to these files.
mapfile -t files < <( (grep -rlE --include='*.test.ts' 'node-red-node-test-helper|helpers/(marketo-flow|node-red-process|process-rig)' test; echo test/nodes/package.test.ts) | sort -u)
echo "node-red 5: ${#files[@]} test files: ${files[*]}"
status=0
npx mocha --no-config -r tsx/cjs --timeout 20000 --reporter spec "${files[@]}" 2>&1 | tee "$log" || status=$?
passed=$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' "$log" | tail -1)
failed=$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' "$log" | tail -1)
echo "node-red 5: $((SECONDS - started)) s in all"
echo "tests (node-red 5): ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
