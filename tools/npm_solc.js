// Compiles a Solidity standard-JSON input read from stdin with a solc-js compiler installed from
// npm, resolving imports inside one package root; prints the standard-JSON output.
// Usage: node tools/npm_solc.js <compiler package> <package root> < input.json > output.json
"use strict";
const fs = require("fs");
const path = require("path");

const [compilerPackage, packageRoot] = process.argv.slice(2);
const root = path.resolve(packageRoot);
const solc = require(require.resolve(compilerPackage, { paths: [process.cwd()] }));

function findImports(importPath) {
  const file = path.resolve(root, importPath);
  if (!file.startsWith(root + path.sep)) return { error: `import outside ${packageRoot}: ${importPath}` };
  try {
    return { contents: fs.readFileSync(file, "utf8") };
  } catch (err) {
    return { error: `cannot read ${importPath}: ${err.message}` };
  }
}

process.stdout.write(solc.compile(fs.readFileSync(0, "utf8"), { import: findImports }));
