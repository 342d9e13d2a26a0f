#!/usr/bin/env node
// outcomes.js prints the IDs of the cases a ctaptest run failed, one
// "ID FAIL" line each, sorted: the form of expected-*.txt. It reads either
// ctaptest's terminal output ("FAIL id section duration" lines) or its --json
// report (any array of objects with an id and an outcome).
//
// Usage: node outcomes.js text FILE | node outcomes.js json FILE
"use strict";
const fs = require("node:fs");

const [mode, file] = process.argv.slice(2);
if (!["text", "json"].includes(mode) || !file) {
	process.stderr.write("usage: node outcomes.js text|json FILE\n");
	process.exit(2);
}
const input = fs.readFileSync(file, "utf8");
const results = new Map(); // id -> outcome, upper case

if (mode === "text") {
	for (const line of input.split("\n")) {
		const m = /^(PASS|FAIL|SKIP|WARN|NOTRUN|NOT-RUN|ERROR)\s+(\S+)/.exec(line);
		if (m) results.set(m[2], m[1]);
	}
} else {
	const walk = (v) => {
		if (Array.isArray(v)) {
			for (const x of v) walk(x);
		} else if (v && typeof v === "object") {
			const id = v.id ?? v.ID;
			const outcome = v.outcome ?? v.Outcome ?? v.result ?? v.status;
			if (typeof id === "string" && typeof outcome === "string") {
				results.set(id, outcome.toUpperCase());
				return;
			}
			for (const x of Object.values(v)) walk(x);
		}
	};
	walk(JSON.parse(input));
}
const failed = [...results].filter(([, o]) => o === "FAIL" || o === "FAILED").map(([id]) => id).sort();
if (results.size === 0) process.exit(0); // run.sh reports an empty result
process.stdout.write(failed.map((id) => `${id} FAIL\n`).join("") || "(no failures)\n");
