#!/usr/bin/env node
// bridge.js serves a foreign authenticator, the CTAP2 command core of the npm
// package nid-webauthn-emulator, as a CTAPHID device over UDP, so that ctaptest
// can be checked against a key this project did not write.
//
// Transport: the SoloKeys simulator convention. One 64-byte HID report per
// datagram, without a report-ID byte; the device listens on 127.0.0.1:PORT and
// answers to the address that sent the request.
//
// CTAPHID (CTAP 2.1 §11.2) is this file's own code; only CTAPHID_CBOR payloads
// reach the emulator. What the bridge implements, and why:
//   INIT      §11.2.9.1.3: on the broadcast channel allocates a channel (IDs
//             count up from a random start, never 0 or 0xffffffff) and echoes
//             the 8-byte nonce; on an allocated channel resynchronises it
//             (drops a message being received, discards the answer of a
//             running command). Capabilities: WINK | CBOR | NMSG.
//   PING      §11.2.9.1.4: echoes the payload.
//   MSG       §11.2.9.1.1: the emulator has no CTAP1/U2F, so INIT sets NMSG
//             and MSG gets ERR_INVALID_CMD.
//   CBOR      §11.2.9.1.2: the first byte is the CTAP command, the rest its
//             CBOR parameters; the emulator runs in a worker thread so the
//             bridge can send KEEPALIVE (STATUS_PROCESSING) every 100 ms
//             (§11.2.9.1.7) while it works. A CTAP error the emulator throws
//             is answered with its status byte; any other exception of the
//             command core is answered with CTAP1_ERR_OTHER (0x7F) and logged
//             to stderr: that is a crash of the key, reported as such.
//   CANCEL    §11.2.9.1.5: never answered. The emulator never waits for the
//             user and cannot be interrupted inside a command, so a running
//             command ends with its own answer.
//   WINK      §11.2.9.2.1: answered with an empty WINK, logged to stderr.
//   LOCK      §11.2.9.2.2 is optional and not implemented: ERR_INVALID_CMD.
//   ERROR     §11.2.9.1.6: ERR_INVALID_CMD for an unknown command,
//             ERR_INVALID_LEN for a bad BCNT (INIT with other than 8 bytes, a
//             message over 7609 bytes, an empty CBOR or MSG, a WINK with a
//             payload), ERR_INVALID_SEQ for a continuation out of sequence or
//             an initialization packet where a continuation was due
//             (§11.2.5.4), ERR_MSG_TIMEOUT when a message does not arrive in
//             full within the transaction timeout (§11.2.5.2),
//             ERR_CHANNEL_BUSY for another channel while a message is being
//             received or a command runs (§11.2.5.3), ERR_INVALID_CHANNEL for
//             channel 0, the broadcast channel (other than INIT) or a channel
//             never allocated (§11.2.4). Spurious continuation packets are
//             ignored (§11.2.5.4).
//
// With --canonical the bridge re-encodes each CBOR response of the command core
// in CTAP2 canonical form (CTAP 2.1 §8) and leaves out map members whose value
// is CBOR undefined. The emulator breaks both rules in its getInfo answer, and
// a client that checks canonical form then refuses every getInfo; the option
// masks that one deviation so that the rest of the key can be examined. It
// touches only the outer response map: the byte strings inside it (authData,
// the COSE key in it, signatures) are the emulator's own bytes.
//
// Usage: node bridge.js [--port 8111] [--canonical] [--log]
// With --port 0 the system picks a free port. Once the socket listens, the
// bridge prints its address (127.0.0.1:PORT) as the one line on stdout.
"use strict";

const dgram = require("node:dgram");
const crypto = require("node:crypto");
const { Worker, isMainThread, parentPort, workerData } = require("node:worker_threads");

if (!isMainThread) {
	runCommandCore();
	return;
}

const REPORT = 64;
const INIT_DATA = REPORT - 7; // 57
const CONT_DATA = REPORT - 5; // 59
const MAX_MESSAGE = INIT_DATA + 128 * CONT_DATA; // 7609
const BROADCAST = 0xffffffff;

const CMD = { PING: 0x01, MSG: 0x03, LOCK: 0x04, INIT: 0x06, WINK: 0x08, CBOR: 0x10, CANCEL: 0x11, KEEPALIVE: 0x3b, ERROR: 0x3f };
const ERR = { INVALID_CMD: 0x01, INVALID_PAR: 0x02, INVALID_LEN: 0x03, INVALID_SEQ: 0x04, MSG_TIMEOUT: 0x05, CHANNEL_BUSY: 0x06, INVALID_CHANNEL: 0x0b, OTHER: 0x7f };
const CAP = { WINK: 0x01, CBOR: 0x04, NMSG: 0x08 };
const CAPABILITIES = CAP.WINK | CAP.CBOR | CAP.NMSG;
const PROTOCOL_VERSION = 2;
const DEVICE_VERSION = [0, 2, 11]; // the emulator's package version
const KEEPALIVE_MS = 100;
const TRANSACTION_TIMEOUT_MS = 3000;
const STATUS_PROCESSING = 0x01;
const CTAP1_ERR_OTHER = 0x7f;

function parseArgs(argv) {
	const opts = { port: 8111, log: false, canonical: false };
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === "--port") opts.port = Number(argv[++i]);
		else if (argv[i] === "--log") opts.log = true;
		else if (argv[i] === "--canonical") opts.canonical = true;
		else {
			process.stderr.write(`usage: node bridge.js [--port PORT] [--canonical] [--log]\n`);
			process.exit(2);
		}
	}
	if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
		process.stderr.write(`bridge: bad port\n`);
		process.exit(2);
	}
	return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = opts.log ? (msg) => process.stderr.write(`bridge: ${msg}\n`) : () => {};
const hex = (n) => n.toString(16).padStart(8, "0");

const sock = dgram.createSocket("udp4");

// Channel allocation (§11.2.3): IDs count up from a random first one.
const first = crypto.randomBytes(4).readUInt32BE(0);
let next = first;
let allExhausted = false;

function allocate() {
	for (;;) {
		const cid = next;
		next = (next + 1) >>> 0;
		if (next === first) allExhausted = true;
		if (cid !== 0 && cid !== BROADCAST) return cid;
	}
}

function allocated(cid) {
	if (cid === 0 || cid === BROADCAST) return false;
	return allExhausted || ((cid - first) >>> 0) < ((next - first) >>> 0);
}

// The message being received, or null: { cid, cmd, bcnt, buf, got, seq, addr, timer }.
let asm = null;
// The command running in the worker, or null: { id, cid, addr, aborted, keepalive }.
let run = null;
let nextRunID = 1;

function send(addr, report) {
	sock.send(report, addr.port, addr.address);
}

function initPacket(cid, cmd, bcnt, data) {
	const p = Buffer.alloc(REPORT);
	p.writeUInt32BE(cid, 0);
	p[4] = 0x80 | cmd;
	p.writeUInt16BE(bcnt, 5);
	data.copy(p, 7, 0, Math.min(data.length, INIT_DATA));
	return p;
}

function sendMessage(addr, cid, cmd, msg) {
	send(addr, initPacket(cid, cmd, msg.length, msg));
	let off = INIT_DATA;
	for (let seq = 0; off < msg.length; seq++) {
		const p = Buffer.alloc(REPORT);
		p.writeUInt32BE(cid, 0);
		p[4] = seq;
		msg.copy(p, 5, off, Math.min(msg.length, off + CONT_DATA));
		send(addr, p);
		off += CONT_DATA;
	}
}

function sendError(addr, cid, code) {
	log(`channel ${hex(cid)}: error 0x${code.toString(16).padStart(2, "0")}`);
	send(addr, initPacket(cid, CMD.ERROR, 1, Buffer.from([code])));
}

function dropAssembly() {
	if (asm && asm.timer) clearTimeout(asm.timer);
	asm = null;
}

function onReport(raw, addr) {
	if (raw.length === 0 || raw.length > REPORT) {
		log(`dropping a ${raw.length}-byte datagram`);
		return;
	}
	const r = Buffer.alloc(REPORT);
	raw.copy(r);
	const cid = r.readUInt32BE(0);
	if ((r[4] & 0x80) === 0) {
		continuation(cid, r[4], r.subarray(5), addr);
		return;
	}
	const cmd = r[4] & 0x7f;
	const bcnt = r.readUInt16BE(5);
	const data = r.subarray(7);
	if (cmd === CMD.INIT) {
		init(cid, bcnt, data, addr);
		return;
	}
	if (cmd === CMD.CANCEL) {
		// Never answered (§11.2.9.1.5); see the header for why a running
		// command is not cut short.
		log(`channel ${hex(cid)}: CANCEL${run && run.cid === cid ? " while a command runs" : " ignored"}`);
		return;
	}
	if (!allocated(cid)) return sendError(addr, cid, ERR.INVALID_CHANNEL);
	if (asm) {
		if (asm.cid === cid) {
			// An initialization packet where a continuation was due (§11.2.5.4).
			dropAssembly();
			return sendError(addr, cid, ERR.INVALID_SEQ);
		}
		return sendError(addr, cid, ERR.CHANNEL_BUSY);
	}
	if (run) return sendError(addr, cid, ERR.CHANNEL_BUSY);
	if (![CMD.PING, CMD.CBOR, CMD.WINK].includes(cmd)) return sendError(addr, cid, ERR.INVALID_CMD);
	if (bcnt > MAX_MESSAGE) return sendError(addr, cid, ERR.INVALID_LEN);
	const m = { cid, cmd, bcnt, buf: Buffer.alloc(bcnt), got: 0, seq: 0, addr, timer: null };
	m.got = data.copy(m.buf, 0, 0, Math.min(bcnt, INIT_DATA));
	if (m.got === bcnt) return dispatch(m);
	asm = m;
	m.timer = setTimeout(() => {
		if (asm !== m) return;
		dropAssembly();
		sendError(m.addr, m.cid, ERR.MSG_TIMEOUT);
	}, TRANSACTION_TIMEOUT_MS);
}

function continuation(cid, seq, data, addr) {
	if (!asm || asm.cid !== cid) {
		log(`ignoring a spurious continuation packet on channel ${hex(cid)}`);
		return;
	}
	if (seq !== asm.seq) {
		dropAssembly();
		return sendError(addr, cid, ERR.INVALID_SEQ);
	}
	asm.seq++;
	asm.got += data.copy(asm.buf, asm.got, 0, Math.min(CONT_DATA, asm.bcnt - asm.got));
	if (asm.got < asm.bcnt) return;
	const m = asm;
	dropAssembly();
	dispatch(m);
}

function init(cid, bcnt, data, addr) {
	if (cid !== BROADCAST && !allocated(cid)) return sendError(addr, cid, ERR.INVALID_CHANNEL);
	if (bcnt !== 8) return sendError(addr, cid, ERR.INVALID_LEN);
	let newCID = cid;
	if (cid === BROADCAST) {
		newCID = allocate();
	} else {
		// Resynchronisation (§11.2.9.1.3).
		if (asm && asm.cid === cid) dropAssembly();
		if (run && run.cid === cid && !run.aborted) {
			run.aborted = true;
			clearInterval(run.keepalive);
		}
	}
	const resp = Buffer.alloc(17);
	data.copy(resp, 0, 0, 8);
	resp.writeUInt32BE(newCID, 8);
	resp[12] = PROTOCOL_VERSION;
	resp[13] = DEVICE_VERSION[0];
	resp[14] = DEVICE_VERSION[1];
	resp[15] = DEVICE_VERSION[2];
	resp[16] = CAPABILITIES;
	sendMessage(addr, cid, CMD.INIT, resp);
}

function dispatch(m) {
	switch (m.cmd) {
		case CMD.PING:
			return sendMessage(m.addr, m.cid, CMD.PING, m.buf);
		case CMD.WINK:
			if (m.bcnt !== 0) return sendError(m.addr, m.cid, ERR.INVALID_LEN);
			process.stderr.write("bridge: WINK\n");
			return sendMessage(m.addr, m.cid, CMD.WINK, Buffer.alloc(0));
		case CMD.CBOR:
			if (m.bcnt === 0) return sendError(m.addr, m.cid, ERR.INVALID_LEN);
			return startCommand(m);
	}
}

let worker = null;

function startWorker() {
	worker = new Worker(__filename, { workerData: { canonical: opts.canonical } });
	worker.on("message", finishCommand);
	worker.on("error", (e) => {
		process.stderr.write(`bridge: the command core's thread died: ${e && e.stack ? e.stack : e}\n`);
	});
	worker.on("exit", () => {
		worker = null;
		if (run) finishCommand({ id: run.id, resp: Buffer.from([CTAP1_ERR_OTHER]) });
	});
}

function startCommand(m) {
	if (!worker) startWorker();
	const r = { id: nextRunID++, cid: m.cid, addr: m.addr, aborted: false, keepalive: null };
	r.keepalive = setInterval(() => {
		if (run === r && !r.aborted) send(r.addr, initPacket(r.cid, CMD.KEEPALIVE, 1, Buffer.from([STATUS_PROCESSING])));
	}, KEEPALIVE_MS);
	run = r;
	worker.postMessage({ id: r.id, req: m.buf });
}

function finishCommand(msg) {
	const r = run;
	if (!r || r.id !== msg.id) return;
	run = null;
	clearInterval(r.keepalive);
	if (r.aborted) {
		log(`channel ${hex(r.cid)}: discarding the answer of a resynchronised command`);
		return;
	}
	const resp = Buffer.from(msg.resp);
	if (resp.length > MAX_MESSAGE) {
		process.stderr.write(`bridge: the command core answered ${resp.length} bytes, more than ${MAX_MESSAGE}\n`);
		return sendError(r.addr, r.cid, ERR.OTHER);
	}
	sendMessage(r.addr, r.cid, CMD.CBOR, resp);
}

sock.on("message", onReport);
sock.on("error", (e) => {
	process.stderr.write(`bridge: ${e.message}\n`);
	process.exit(1);
});
sock.bind(opts.port, "127.0.0.1", () => {
	startWorker();
	const { address, port } = sock.address();
	process.stderr.write(`bridge: nid-webauthn-emulator listening on ${address}:${port}\n`);
	// The one line on stdout: the address, for a caller that asked for port 0.
	process.stdout.write(`${address}:${port}\n`);
});
for (const sig of ["SIGINT", "SIGTERM"]) {
	process.on(sig, () => {
		sock.close();
		if (worker) worker.terminate();
		process.exit(0);
	});
}

// runCommandCore is the worker thread: one AuthenticatorEmulator with its
// defaults (FIDO_2_0, resident keys, an in-memory credential store, user
// presence and verification always granted), fed CTAPHID_CBOR payloads.
function runCommandCore() {
	const { AuthenticatorEmulator, AuthenticationEmulatorError } = require("nid-webauthn-emulator");
	const key = new AuthenticatorEmulator();
	const ctap1ErrOther = 0x7f; // the main thread's constants are not initialised here
	parentPort.on("message", ({ id, req }) => {
		const command = req[0];
		const params = req.length > 1 ? new Uint8Array(req.subarray(1)) : undefined;
		let resp;
		try {
			const r = key.command({ command, data: params });
			let data = Buffer.from(r.data ?? []);
			if (workerData.canonical && data.length > 0) data = canonical(data);
			resp = Buffer.concat([Buffer.from([r.status]), data]);
		} catch (e) {
			if (e instanceof AuthenticationEmulatorError && Number.isInteger(e.status)) {
				resp = Buffer.from([e.status]);
			} else {
				process.stderr.write(`bridge: command 0x${command.toString(16).padStart(2, "0")}: the command core threw ${e && e.stack ? e.stack.split("\n").slice(0, 2).join(" | ") : e}\n`);
				resp = Buffer.from([ctap1ErrOther]);
			}
		}
		parentPort.postMessage({ id, resp });
	});
}

// canonical re-encodes one CBOR data item in CTAP2 canonical form (the cbor
// package's canonical mode sorts map keys by length, then bytes, as CTAP 2.1
// §8 requires), dropping map members whose value is undefined.
function canonical(buf) {
	const cbor = require("cbor");
	const strip = (v) => {
		if (v instanceof Map) {
			const m = new Map();
			for (const [k, x] of v) if (x !== undefined) m.set(k, strip(x));
			return m;
		}
		if (Array.isArray(v)) return v.map(strip);
		return v;
	};
	return cbor.encodeCanonical(strip(cbor.decodeFirstSync(buf, { preferMap: true })));
}
