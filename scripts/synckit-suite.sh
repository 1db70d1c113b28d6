#!/usr/bin/env bash
# Runs synckit's own test suite (its test/ folder, with jest, as synckit runs it) against
# crochet/synckit.
#
#   scripts/synckit-suite.sh SYNCKIT_COPY [CROCHET_DIR]
#
# SYNCKIT_COPY: a scratch copy of synckit's repository (for example
#   `git --git-dir=<clone>/.git archive HEAD | tar -x -C /tmp/synckit-copy`). The script
#   prepares it in place: it rewrites its package.json (keeping the original as
#   package.json.orig), its tsconfig.json, and its lib/. It downloads nothing but the npm
#   packages the tests need, the first time (`npm install`, into that copy).
# CROCHET_DIR: a crochet checkout with dist/ built (`npm run build`); default: this one. Its
#   package.json and dist/ are copied into SYNCKIT_COPY/node_modules/crochet, as an install
#   would place them (a TypeScript runner such as @swc-node/register compiles JavaScript
#   outside node_modules, and would compile crochet's own files too).
#
# Environment:
#   MODE=strict    `synckit` is crochet/synckit and nothing else, in the tests and in their
#                  worker files. Suites that import synckit's internal helpers (its constants,
#                  hasFlag, generateGlobals…) fail to link: crochet/synckit does not export them.
#   MODE=hybrid    (default) the same, but the names crochet/synckit does not export are taken
#                  from synckit itself, so that the tests of behaviour can run; the suites that
#                  test only those helpers are left out (they would test synckit, not crochet),
#                  and so are the four tests that mock node:worker_threads' receiveMessageOnPort
#                  and Atomics.wait to feed synckit's message loop (crochet/synckit has another).
#   MODE=baseline  synckit itself (its src/ built with tsc), for comparison.
#   BUN=path       a bun binary, for the fixture test run with bun (without it, that test fails:
#                  spawn bun ENOENT).
#   CI=1           includes synckit's reliability test (1,000,000 calls; minutes).
#   Further arguments after CROCHET_DIR go to jest.
set -euo pipefail

copy=$(cd "${1:?usage: scripts/synckit-suite.sh SYNCKIT_COPY [CROCHET_DIR] [jest args]}" && pwd)
crochet=$(cd "${2:-$(dirname "$0")/..}" && pwd)
shift $(($# >= 2 ? 2 : 1))
mode=${MODE:-hybrid}
cd "$copy"

[[ -f "$crochet/dist/synckit.js" ]] || { echo "no $crochet/dist/synckit.js: build crochet first" >&2; exit 1; }
[[ -f src/index.ts && -d test ]] || { echo "$copy does not look like synckit's repository" >&2; exit 1; }

# The dev dependencies the tests use (synckit's own list holds its release tooling too, and
# a `link:.` npm cannot install); @pkgr/utils is used by test/utils.spec.ts.
if [[ ! -f package.json.orig ]]; then
  cp package.json package.json.orig
  cp tsconfig.json tsconfig.json.orig
  node -e '
    const fs = require("fs");
    const p = JSON.parse(fs.readFileSync("package.json.orig", "utf8"));
    const keep = ["@oxc-node/core", "@swc-node/register", "@swc/core", "@swc/helpers", "@types/jest", "@types/node",
      "esbuild-register", "esbuild-runner", "eslint", "jest", "tinyexec", "ts-expect", "ts-jest", "ts-node", "tsx",
      "typescript"];
    const dev = Object.fromEntries(keep.filter((k) => p.devDependencies[k]).map((k) => [k, p.devDependencies[k]]));
    Object.assign(dev, { "@1stg/tsconfig": "^3.0.3", "@pkgr/utils": "^4.1.0" }, p.dependencies);
    p.devDependencies = dev;
    for (const key of ["dependencies", "resolutions", "packageManager"]) delete p[key];
    delete p.scripts.prepare;
    fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");'
  rm -f yarn.lock .yarnrc.yml
fi
[[ -d node_modules/jest ]] || npm install --no-audit --no-fund

# synckit itself, built as its tests' worker files import it (`synckit` resolves to this
# package's own lib/ by its name), for the baseline and for the names crochet/synckit lacks.
if [[ ! -f lib.synckit/index.js ]]; then
  npx tsc -p src --outDir lib.synckit
  echo "module.exports = require('./index.js');" > lib.synckit/index.cjs
fi

# crochet, as installed.
rm -rf node_modules/crochet
mkdir -p node_modules/crochet
cp -r "$crochet/package.json" "$crochet/dist" node_modules/crochet/
# What yarn's `"synckit": "link:."` makes (the bun fixture resolves synckit through it).
ln -sfn .. node_modules/synckit

rm -rf lib
if [[ $mode == baseline ]]; then
  cp -r lib.synckit lib
  cp tsconfig.json.orig tsconfig.json
  mapped='<rootDir>/src/index.ts'
else
  mkdir lib
  echo "export * from 'crochet/synckit';" > lib/index.js
  echo "module.exports = require('crochet/synckit');" > lib/index.cjs
  echo "export * from 'crochet/synckit';" > lib/index.d.ts
  cp lib/index.d.ts lib/index.d.cts
  # synckit's tsconfig maps `synckit` to its src/index.ts, and runners that read tsconfig
  # paths (oxc, swc) would load synckit's own runAsWorker in the worker files.
  node -e '
    const fs = require("fs");
    const t = JSON.parse(fs.readFileSync("tsconfig.json.orig", "utf8"));
    t.compilerOptions.paths = { synckit: ["./lib/index"] };
    fs.writeFileSync("tsconfig.json", JSON.stringify(t, null, 2) + "\n");'
  if [[ $mode == hybrid ]]; then
    node --input-type=module -e '
      import fs from "node:fs";
      const crochet = await import(process.cwd() + "/node_modules/crochet/dist/synckit.js");
      const synckit = await import(process.cwd() + "/lib.synckit/index.js");
      const lines = [
        "// crochet/synckit, with the names it does not export taken from synckit itself.",
        "import * as crochet from \"crochet/synckit\";",
        "import * as synckit from \"./lib.synckit/index.js\";",
        ...Object.keys(synckit).map((name) => `export const ${name} = ${name in crochet ? "crochet" : "synckit"}.${name};`),
      ];
      fs.writeFileSync("crochet-hybrid.js", lines.join("\n") + "\n");'
    mapped='<rootDir>/crochet-hybrid.js'
  else
    mapped='<rootDir>/node_modules/crochet/dist/synckit.js'
  fi
fi
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const config = { ...p.jest, rootDir: process.cwd(), collectCoverage: false,
    moduleNameMapper: { ...p.jest.moduleNameMapper, "^synckit$": process.argv[1] } };
  fs.writeFileSync("jest.suite.json", JSON.stringify(config, null, 2) + "\n");' "$mapped"

# The fixture test runs `yarn node index.js` in test/fixtures/yarn-pnp, which carries its own
# yarn release; and `bun index.ts`.
bin="$copy/.suite-bin"
mkdir -p "$bin"
printf '#!/bin/sh\nexec node "$PWD/.yarn/releases/yarn-4.15.0.cjs" "$@"\n' > "$bin/yarn"
chmod +x "$bin/yarn"
[[ -n ${BUN:-} ]] && ln -sfn "$BUN" "$bin/bun"

args=()
if [[ $mode == hybrid ]]; then
  # synckit's helpers, tested against synckit's own code here: nothing of crochet's.
  args+=(--testPathIgnorePatterns '/node_modules/' 'test/helpers\.spec\.ts' 'test/common\.spec\.ts' 'test/utils\.spec\.ts')
  # Tests that drive synckit's message loop with mocks of receiveMessageOnPort and Atomics.wait.
  args+=(--testNamePattern '^(?!(handling of outdated message from worker|propagation of undefined timeout|reduction of waiting time|unexpected message from worker)$)')
fi
echo "synckit-suite: mode $mode, synckit ${mapped}, crochet from $crochet" >&2
PATH="$bin:$PATH" exec node --experimental-vm-modules node_modules/jest/bin/jest.js --config jest.suite.json --verbose --ci \
  "${args[@]}" "$@"
