#!/usr/bin/env node
// Parses every LogQL expression in Grafana dashboards with Grafana's own LogQL
// grammar (@grafana/lezer-logql, the parser behind Grafana's Loki query editor)
// and exits non-zero if any expression has a syntax error.
//
//   node tests/dashboards/check-logql.mjs dashboards/*.json
//
// A target is LogQL when its datasource (or its panel's) is of type `loki` or
// names the `${DS_LOKI}` variable. Grafana variables are replaced by plausible
// values first, as Grafana does before sending the query: `[$__range]` must be
// a duration for the grammar, and `$call_id` inside a string may be anything.
// Lezer recovers from syntax errors by inserting error nodes (`⚠` in the tree),
// so an expression is valid only when its tree holds none.

import { readFileSync } from "node:fs";
import { parser } from "@grafana/lezer-logql";

const VARIABLES = {
  __range: "5m",
  __interval: "15s",
  __rate_interval: "1m",
  __auto: "1m",
  node: "fs-1",
  call_id: "1-4274@127.0.0.1",
  uuid: "d9e73608-5048-4523-aded-4dc2c3f91498",
  search: "INVITE",
};

function substitute(expr) {
  return expr.replace(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)/g, (whole, braced, bare) => {
    const name = braced ?? bare;
    if (!(name in VARIABLES)) {
      throw new Error(`unknown dashboard variable $${name}`);
    }
    return VARIABLES[name];
  });
}

function isLoki(ds) {
  if (!ds) return false;
  if (typeof ds === "string") return ds.includes("DS_LOKI");
  return ds.type === "loki" || String(ds.uid ?? "").includes("DS_LOKI");
}

function* targets(panels) {
  for (const panel of panels ?? []) {
    for (const t of panel.targets ?? []) {
      yield { panel, target: t };
    }
    // Collapsed rows keep their panels inside.
    yield* targets(panel.panels);
  }
}

function errorsOf(expr) {
  const tree = parser.parse(expr);
  const errors = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        errors.push(node.from);
      }
    },
  });
  return { tree, errors };
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: check-logql.mjs DASHBOARD.json...");
  process.exit(2);
}

let checked = 0;
let failed = 0;
for (const file of files) {
  const dashboard = JSON.parse(readFileSync(file, "utf8"));
  for (const { panel, target } of targets(dashboard.panels)) {
    if (!isLoki(target.datasource ?? panel.datasource)) continue;
    const where = `${file}: panel "${panel.title}" (${target.refId})`;
    if (typeof target.expr !== "string" || target.expr.trim() === "") {
      console.error(`${where}: empty LogQL expression`);
      failed++;
      continue;
    }
    let expr;
    try {
      expr = substitute(target.expr);
    } catch (e) {
      console.error(`${where}: ${e.message}\n  ${target.expr}`);
      failed++;
      continue;
    }
    const { tree, errors } = errorsOf(expr);
    checked++;
    if (errors.length > 0) {
      failed++;
      const marks = errors.map((at) => `${expr.slice(0, at)}⚠${expr.slice(at)}`).join("\n  ");
      console.error(`${where}: LogQL syntax error at offset ${errors.join(", ")}\n  ${marks}\n  tree: ${tree}`);
    }
  }
}

if (checked === 0 && failed === 0) {
  console.error("no LogQL expression found");
  process.exit(1);
}
console.log(`${checked} LogQL expression(s) parsed, ${failed} error(s)`);
process.exit(failed === 0 ? 0 : 1);
