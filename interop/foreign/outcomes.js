#!/usr/bin/env node
// outcomes.js prints the IDs of the cases a ctaptest run failed, one
// "ID FAIL" line each, sorted: the form of expected-*.txt. It reads either
// ctaptest's terminal output ("[n/N] FAIL id section duration" lines, each followed
// by its indented messages) or its --json report (any array of objects with
// an id and an outcome, and messages if it has them).
//
// With --except REGEXP, a failure whose messages match REGEXP is left out,
// unless the case is named with --keep ID (which may be repeated): for
// comparing runs while one known cause fails many cases at once (as the
// client's refusal of a non-canonical getInfo once did).
//
// Usage: node outcomes.js [--except REGEXP [--keep ID]...] text|json FILE
"use strict";
const fs = require("node:fs");

const args = process.argv.slice(2);
let except = null;
const keep = new Set();
while (args[0] === "--except" || args[0] === "--keep") {
	if (args[0] === "--except") except = new RegExp(args[1]);
	else keep.add(args[1]);
	args.splice(0, 2);
}
const [mode, file] = args;
if (!["text", "json"].includes(mode) || !file) {
	process.stderr.write("usage: node outcomes.js [--except REGEXP [--keep ID]...] text|json FILE\n");
	process.exit(2);
}
const input = fs.readFileSync(file, "utf8");
const results = new Map(); // id -> { outcome, messages }

if (mode === "text") {
	let current = null;
	for (const line of input.split("\n")) {
		// "FAIL id …", or "[  7/527] FAIL id …" with a progress counter.
		const m = /^(?:\[\s*\d+\/\d+\]\s+)?([A-Z][A-Z-]+)\s+(\S+)/.exec(line);
		if (m && ["PASS", "FAIL", "SKIP", "WARN", "NOTRUN", "NOT-RUN", "ERROR"].includes(m[1])) {
			current = { outcome: m[1], messages: "" };
			results.set(m[2], current);
		} else if (current && /^\s/.test(line)) {
			current.messages += `${line.trim()}\n`;
		} else {
			current = null;
		}
	}
} else {
	const walk = (v) => {
		if (Array.isArray(v)) {
			for (const x of v) walk(x);
		} else if (v && typeof v === "object") {
			const id = v.id ?? v.ID;
			const outcome = v.outcome ?? v.Outcome ?? v.result ?? v.status;
			if (typeof id === "string" && typeof outcome === "string") {
				const msgs = v.messages ?? v.Messages ?? v.message ?? v.error ?? "";
				results.set(id, { outcome: outcome.toUpperCase(), messages: Array.isArray(msgs) ? msgs.join("\n") : String(msgs) });
				return;
			}
			for (const x of Object.values(v)) walk(x);
		}
	};
	walk(JSON.parse(input));
}
if (results.size === 0) process.exit(0); // run.sh reports an empty result
const failed = [...results]
	.filter(([, r]) => r.outcome === "FAIL" || r.outcome === "FAILED")
	.filter(([id, r]) => keep.has(id) || !(except && except.test(r.messages)))
	.map(([id]) => id)
	.sort();
process.stdout.write(failed.map((id) => `${id} FAIL\n`).join("") || "(no failures)\n");
