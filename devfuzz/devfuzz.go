// Package devfuzz fuzzes a FIDO key over its real transport: CTAPHID
// framing (lengths, sequence numbers, channels, interleaving, INIT and
// CANCEL in the middle of a message; CTAP 2.1 §11.2) and the CBOR of every
// command and subcommand (a member's type, length, absence, duplication,
// nesting and canonical form; CTAP 2.1 §8), mutated from valid requests and
// from the recorded requests of testvectors/.
//
// After each input a liveness probe runs: CTAPHID_INIT on the broadcast
// channel, PING on the new channel, and getInfo, whose stable members must
// not change. A key that stops answering, answers with malformed frames or
// CBOR, or whose getInfo changed is a finding: the input is minimized by
// replay (after a power cycle when the target can do one) and saved as a
// reproducer that Replay runs again against any target.
package devfuzz

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Frame is one report the fuzzer sends. Chan 0 and 1 are the fuzzer's two
// channels: the report's CID is replaced by that channel's when sent. Chan
// -1 sends the report's own CID.
type Frame struct {
	Chan   int
	Report []byte
}

type frameJSON struct {
	Chan   int    `json:"chan"`
	Report string `json:"report"`
}

// MarshalJSON writes the report in hex, as a person reads a dump.
func (f Frame) MarshalJSON() ([]byte, error) {
	return json.Marshal(frameJSON{f.Chan, hex.EncodeToString(f.Report)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (f *Frame) UnmarshalJSON(b []byte) error {
	var j frameJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	r, err := hex.DecodeString(j.Report)
	if err != nil || len(r) != ctaphid.ReportSize {
		return fmt.Errorf("devfuzz: report %q is not %d bytes of hex", j.Report, ctaphid.ReportSize)
	}
	f.Chan, f.Report = j.Chan, r
	return nil
}

// Input is what one fuzzing step sends.
type Input struct {
	// Origin names the seed and the mutations applied to it.
	Origin string  `json:"origin"`
	Frames []Frame `json:"frames"`
}

// Finding is a way the key misbehaved, with the input that shows it.
type Finding struct {
	// Kind is "stopped answering", "malformed answer" or "getInfo changed".
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	Input  Input  `json:"input"`
	// Original is the number of frames before minimizing.
	Original int `json:"original"`
}

func (f *Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "FINDING: the key %s: %s\n  input: %s (%d frames, minimized from %d)\n", f.Kind, f.Detail, f.Input.Origin, len(f.Input.Frames), f.Original)
	for _, fr := range f.Input.Frames {
		fmt.Fprintf(&b, "  >>> chan %2d %x\n", fr.Chan, fr.Report)
	}
	return b.String()
}

// Finding kinds.
const (
	KindDead      = "stopped answering"
	KindMalformed = "malformed answer"
	KindInfo      = "getInfo changed"
)

// Config says what to fuzz and for how long.
type Config struct {
	// Open connects to the key; the fuzzer keeps one connection and
	// opens it again after a power cycle.
	Open func(ctx context.Context) (*client.Device, error)
	// PowerCycle, when set, restores a key that stopped answering and
	// runs before each replay while minimizing.
	PowerCycle func(ctx context.Context) error
	// Seed makes the inputs reproducible.
	Seed uint64
	// Duration and MaxInputs bound the run (the first reached ends it;
	// zero is no bound, but one of them must be set).
	Duration  time.Duration
	MaxInputs int
	// MaxFindings ends the run after that many findings (0: no limit).
	MaxFindings int
	// Interval is the least time between inputs (a rate limit for
	// hardware); zero is none.
	Interval time.Duration
	// Wait is how long the fuzzer waits for the first answer to an input
	// (default 1 s); Quiet is how long it waits for more after an answer
	// (default 30 ms).
	Wait, Quiet time.Duration
	// Destructive allows inputs that may change the key's state beyond
	// credentials of the fuzzer's RPs: reset, clientPIN PIN checks and
	// changes, authenticatorConfig, deletion, large-blob writes,
	// enrollment, discoverable credentials.
	Destructive bool
	// Seeds are added to the built-in corpus (valid requests of every
	// command and the recorded requests of testvectors/ctap).
	Seeds []Input
	// Log, when set, gets progress lines.
	Log io.Writer
}

// Stats counts what a run did.
type Stats struct {
	Inputs   int           // inputs generated and sent
	Execs    int           // inputs sent, minimizing replays included
	Duration time.Duration // wall time
	// Pairs counts the distinct (command, status) pairs the key answered:
	// "authenticatorGetInfo/CTAP2_OK", "CTAPHID_ERROR/ERR_INVALID_SEQ", ...
	Pairs map[string]int
}

// fuzzer is one run's state.
type fuzzer struct {
	cfg      *Config
	dev      *client.Device
	conn     *ctaphid.Conn
	baseline []byte // the stable members of getInfo, encoded
	nonce    uint64
	stats    Stats
}

func (c *Config) defaults() {
	if c.Wait == 0 {
		c.Wait = 500 * time.Millisecond
	}
	if c.Quiet == 0 {
		c.Quiet = 30 * time.Millisecond
	}
}

// Run fuzzes until cfg.Duration or cfg.MaxInputs. It returns the findings
// (it stops at the first finding it cannot recover from) and an error when
// the target could not be driven at all.
func Run(ctx context.Context, cfg Config) (Stats, []*Finding, error) {
	cfg.defaults()
	if cfg.Duration == 0 && cfg.MaxInputs == 0 {
		return Stats{}, nil, errors.New("devfuzz: set Duration or MaxInputs")
	}
	fz := &fuzzer{cfg: &cfg, stats: Stats{Pairs: map[string]int{}}}
	start := time.Now()
	defer func() { fz.close() }()
	if err := fz.open(ctx); err != nil {
		return fz.stats, nil, err
	}
	if err := fz.probe(ctx, true); err != nil {
		return fz.stats, nil, fmt.Errorf("devfuzz: the key does not answer the probe before fuzzing: %w", err)
	}
	corpus := append(Corpus(cfg.Destructive), cfg.Seeds...)
	r := rand.New(rand.NewPCG(cfg.Seed, 0x6675))
	var findings []*Finding
	for n := 0; ; n++ {
		if cfg.MaxInputs > 0 && n >= cfg.MaxInputs || cfg.Duration > 0 && time.Since(start) >= cfg.Duration || ctx.Err() != nil {
			break
		}
		in := mutate(corpus[r.IntN(len(corpus))], r, cfg.Destructive)
		fz.stats.Inputs++
		f, err := fz.try(ctx, in)
		if err != nil {
			fz.stats.Duration = time.Since(start)
			return fz.stats, findings, err
		}
		if f != nil {
			if cfg.Log != nil {
				fmt.Fprintf(cfg.Log, "input %d: the key %s; minimizing\n", n+1, f.Kind)
			}
			min, alive := fz.minimize(ctx, f)
			findings = append(findings, min)
			if !alive || cfg.MaxFindings > 0 && len(findings) >= cfg.MaxFindings {
				break
			}
		}
		if cfg.Log != nil && (n+1)%500 == 0 {
			fmt.Fprintf(cfg.Log, "%d inputs, %d findings, %d (command, status) pairs\n", n+1, len(findings), len(fz.stats.Pairs))
		}
		if cfg.Interval > 0 {
			t := time.NewTimer(cfg.Interval)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
	fz.stats.Duration = time.Since(start)
	return fz.stats, findings, nil
}

// Replay sends in once and probes the key. It returns the finding, or nil
// when the key now survives the input.
func Replay(ctx context.Context, cfg Config, in Input) (*Finding, error) {
	cfg.defaults()
	fz := &fuzzer{cfg: &cfg, stats: Stats{Pairs: map[string]int{}}}
	defer func() { fz.close() }()
	if err := fz.open(ctx); err != nil {
		return nil, err
	}
	if err := fz.probe(ctx, true); err != nil {
		return nil, fmt.Errorf("devfuzz: the key does not answer the probe before the input: %w", err)
	}
	f, err := fz.try(ctx, in)
	if f != nil {
		f.Original = len(in.Frames)
	}
	return f, err
}

func (fz *fuzzer) open(ctx context.Context) error {
	fz.close()
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dev, err := fz.cfg.Open(octx)
	if err != nil {
		return fmt.Errorf("devfuzz: opening the key: %w", err)
	}
	fz.dev, fz.conn = dev, dev.Conn()
	return nil
}

func (fz *fuzzer) close() {
	if fz.dev != nil {
		fz.dev.Close()
		fz.dev, fz.conn = nil, nil
	}
}

// try sends one input and probes. A finding comes back as such; an error
// only when the target cannot be driven.
func (fz *fuzzer) try(ctx context.Context, in Input) (*Finding, error) {
	fz.stats.Execs++
	if detail := fz.send(ctx, in); detail != "" {
		return &Finding{Kind: KindMalformed, Detail: detail, Input: in, Original: len(in.Frames)}, nil
	}
	if err := fz.probe(ctx, false); err != nil {
		kind := KindDead
		var ce changedError
		if errors.As(err, &ce) {
			kind = KindInfo
		}
		return &Finding{Kind: kind, Detail: err.Error(), Input: in, Original: len(in.Frames)}, nil
	}
	return nil, nil
}

// restore brings a key back after a finding: a power cycle when the
// target can do one, and a new connection. It reports whether the key
// answers the probe again.
func (fz *fuzzer) restore(ctx context.Context) bool {
	if fz.cfg.PowerCycle != nil {
		if err := fz.cfg.PowerCycle(ctx); err != nil {
			return false
		}
	}
	if err := fz.open(ctx); err != nil {
		return false
	}
	return fz.probe(ctx, false) == nil
}

// minimize removes frames from the finding's input while the same kind of
// finding reproduces (each replay on a restored key), within a budget of
// replays. It reports whether the key answers at the end.
func (fz *fuzzer) minimize(ctx context.Context, f *Finding) (*Finding, bool) {
	best := f
	if !fz.restore(ctx) {
		return best, false
	}
	budget := 60
	for chunk := max(len(best.Input.Frames)/2, 1); chunk >= 1 && budget > 0; chunk /= 2 {
		for i := 0; i+chunk <= len(best.Input.Frames) && budget > 0 && len(best.Input.Frames) > 1; {
			try := Input{Origin: best.Input.Origin, Frames: slices.Concat(best.Input.Frames[:i], best.Input.Frames[i+chunk:])}
			budget--
			got, err := fz.try(ctx, try)
			if err != nil {
				return best, false
			}
			if got != nil && !fz.restore(ctx) {
				return best, false
			}
			if got != nil && got.Kind == best.Kind {
				got.Original = f.Original
				best = got
				continue
			}
			i += chunk
		}
	}
	return best, true
}

// cids are the fuzzer's two channels for the current input.
type cids [2]uint32

// allocate gets a channel with CTAPHID_INIT on the broadcast channel
// (CTAP 2.1 §11.2.9.1.3).
func (fz *fuzzer) allocate(ctx context.Context) (uint32, error) {
	fz.nonce++
	nonce := binary.BigEndian.AppendUint64(nil, fz.nonce)
	if err := fz.conn.WriteRaw(ctaphid.InitPacket(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, nonce)); err != nil {
		return 0, err
	}
	for {
		cmd, data, err := fz.recv(ctx, ctaphid.BroadcastCID)
		if err != nil {
			return 0, err
		}
		if cmd == ctaphid.CmdInit && len(data) >= 17 && bytes.Equal(data[:8], nonce) {
			return binary.BigEndian.Uint32(data[8:]), nil
		}
	}
}

// partial is a message being reassembled from its packets (CTAP 2.1
// §11.2.4).
type partial struct {
	cmd  ctaphid.Cmd
	n    int
	seq  byte
	data []byte
}

// start begins a message with its initialization packet.
func start(p ctaphid.Packet) *partial {
	n := int(p.BCNT)
	return &partial{cmd: p.Cmd, n: n, data: append([]byte(nil), p.Data[:min(n, len(p.Data))]...)}
}

// add appends a continuation packet; false when it is not the next one.
func (m *partial) add(p ctaphid.Packet) bool {
	if p.Seq != m.seq {
		return false
	}
	m.seq++
	m.data = append(m.data, p.Data[:min(m.n-len(m.data), len(p.Data))]...)
	return true
}

func (m *partial) done() bool { return len(m.data) >= m.n }

// recv reads the next whole message on cid, skipping keepalives and other
// channels' reports.
func (fz *fuzzer) recv(ctx context.Context, cid uint32) (ctaphid.Cmd, []byte, error) {
	var m *partial
	for {
		rep, err := fz.conn.ReadRaw(ctx)
		if err != nil {
			return 0, nil, err
		}
		p, err := ctaphid.ParsePacket(rep)
		if err != nil || p.CID != cid {
			continue
		}
		switch {
		case p.Init && p.Cmd == ctaphid.CmdKeepalive:
			continue
		case p.Init:
			m = start(p)
		case m == nil || !m.add(p):
			return 0, nil, fmt.Errorf("continuation packet out of place (seq %d)", p.Seq)
		}
		if m.done() {
			return m.cmd, m.data, nil
		}
	}
}

// send writes the input's frames and reads what comes back, checking that
// every answer on the fuzzer's channels is well-formed. It returns what
// was malformed, or "".
func (fz *fuzzer) send(ctx context.Context, in Input) string {
	fz.drain(ctx)
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ch cids
	for i := range ch {
		cid, err := fz.allocate(actx)
		if err != nil {
			return "" // the probe will tell
		}
		ch[i] = cid
	}
	var sent ctaphid.Cmd
	var cborCmd byte
	for _, f := range in.Frames {
		rep := slices.Clone(f.Report)
		if f.Chan >= 0 && f.Chan < len(ch) {
			binary.BigEndian.PutUint32(rep, ch[f.Chan])
		}
		if rep[4]&0x80 != 0 && sent == 0 {
			sent = ctaphid.Cmd(rep[4] &^ 0x80)
			if sent == ctaphid.CmdCBOR && rep[5] == 0 && rep[6] > 0 {
				cborCmd = rep[7]
			}
		}
		if err := fz.conn.WriteRaw(rep); err != nil {
			return ""
		}
	}
	if regular(in.Frames) {
		return fz.collect(ctx, ch, cborCmd, 1)
	}
	bad := fz.collect(ctx, ch, cborCmd, 0)
	// An input that left a message unfinished keeps the key busy until
	// its transaction times out; CTAPHID_INIT on the channel abandons it
	// at once (CTAP 2.1 §11.2.9.1.3, resynchronization).
	for _, cid := range ch {
		fz.resync(ctx, cid)
	}
	return bad
}

// resync sends CTAPHID_INIT on an allocated channel and waits for the
// answer. A key that does not answer is caught by the probe.
func (fz *fuzzer) resync(ctx context.Context, cid uint32) {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	fz.nonce++
	nonce := binary.BigEndian.AppendUint64(nil, fz.nonce)
	if fz.conn.WriteRaw(ctaphid.InitPacket(cid, ctaphid.CmdInit, 8, nonce)) != nil {
		return
	}
	for {
		cmd, data, err := fz.recv(rctx, cid)
		if err != nil || cmd == ctaphid.CmdInit && len(data) >= 8 && bytes.Equal(data[:8], nonce) {
			return
		}
	}
}

// regular reports whether frames are one well-formed message on the
// fuzzer's first channel, which the key answers with exactly one message.
func regular(fs []Frame) bool {
	reps := make([][]byte, len(fs))
	for i, f := range fs {
		if f.Chan != 0 {
			return false
		}
		reps[i] = f.Report
	}
	m, err := ctaphid.Reassemble(reps)
	return err == nil && m.Cmd != ctaphid.CmdCancel && m.Cmd != ctaphid.CmdInit
}

// drain discards reports left from the previous input.
func (fz *fuzzer) drain(ctx context.Context) {
	for {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
		_, err := fz.conn.ReadRaw(dctx)
		cancel()
		if err != nil {
			return
		}
	}
}

// collect reads answers until want answers came (want > 0), or else until
// the key has been quiet for Quiet after an answer or Wait passed without
// one, and checks each.
func (fz *fuzzer) collect(ctx context.Context, ch cids, cborCmd byte, want int) string {
	open := map[uint32]*partial{}
	deadline := time.Now().Add(fz.cfg.Wait)
	for {
		rctx, cancel := context.WithDeadline(ctx, deadline)
		rep, err := fz.conn.ReadRaw(rctx)
		cancel()
		if err != nil {
			return ""
		}
		p, err := ctaphid.ParsePacket(rep)
		if err != nil {
			return fmt.Sprintf("a report of %d bytes", len(rep))
		}
		if p.CID != ch[0] && p.CID != ch[1] {
			continue
		}
		deadline = time.Now().Add(fz.cfg.Quiet)
		if p.Init {
			switch p.Cmd {
			case ctaphid.CmdKeepalive:
				if s := p.Data[0]; s != 1 && s != 2 {
					return fmt.Sprintf("KEEPALIVE with status %d (§11.2.9.1.7 names 1 and 2)", s)
				}
				deadline = time.Now().Add(fz.cfg.Wait)
				continue
			case ctaphid.CmdError:
				code := ctaphid.ErrorCode(p.Data[0])
				if strings.HasPrefix(code.String(), "ErrorCode(") {
					return fmt.Sprintf("CTAPHID_ERROR with code 0x%02x (§11.2.9.1.6)", byte(code))
				}
				fz.pair("CTAPHID_ERROR", code.String())
				if want--; want == 0 {
					return ""
				}
				continue
			case ctaphid.CmdPing, ctaphid.CmdMsg, ctaphid.CmdInit, ctaphid.CmdCBOR, ctaphid.CmdWink, ctaphid.CmdLock, ctaphid.CmdCancel:
			default:
				return fmt.Sprintf("an answer with command %v on channel %08x", p.Cmd, p.CID)
			}
			if int(p.BCNT) > ctaphid.MaxMessageSize {
				return fmt.Sprintf("an answer of BCNT %d", p.BCNT)
			}
			open[p.CID] = start(p)
		} else {
			m := open[p.CID]
			if m == nil || !m.add(p) {
				return fmt.Sprintf("a continuation packet (seq %d) with no message in progress on %08x", p.Seq, p.CID)
			}
		}
		m := open[p.CID]
		if !m.done() {
			continue
		}
		delete(open, p.CID)
		if m.cmd == ctaphid.CmdCBOR {
			if m.n == 0 {
				return "an empty CTAPHID_CBOR answer (no status byte; §11.2.9.1.2)"
			}
			st := ctap.Status(m.data[0])
			if strings.HasPrefix(st.String(), "Status(") {
				return fmt.Sprintf("CTAP status 0x%02x, which the spec does not name (§6.3)", m.data[0])
			}
			if st == ctap.StatusOK && m.n > 1 && !ctap.Valid(m.data[1:]) {
				return fmt.Sprintf("CTAP2_OK with a body that is not one well-formed CBOR item: %x", m.data[1:])
			}
			name := ctap.Command(cborCmd).String()
			fz.pair(name, st.String())
		} else {
			fz.pair(m.cmd.String(), "answer")
		}
		if want--; want == 0 {
			return ""
		}
	}
}

func (fz *fuzzer) pair(cmd, status string) { fz.stats.Pairs[cmd+"/"+status]++ }

// changedError is a probe that found getInfo changed.
type changedError struct{ was, now string }

func (e changedError) Error() string {
	return fmt.Sprintf("getInfo's stable members changed: was %s, now %s", e.was, e.now)
}

// probe checks that the key answers: INIT on the broadcast channel, PING
// on the new channel, getInfo there. With baseline it records getInfo's
// stable members; without, it compares them.
func (fz *fuzzer) probe(ctx context.Context, baseline bool) error {
	pctx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	if fz.conn == nil {
		return errors.New("no connection")
	}
	fz.drain(ctx)
	cid, err := fz.allocate(pctx)
	if err != nil {
		return fmt.Errorf("CTAPHID_INIT: %w", err)
	}
	ping := []byte("virtkey liveness probe, 0123456789abcdef0123456789abcdef0123456789")
	cmd, data, err := fz.call(pctx, cid, ctaphid.CmdPing, ping)
	if err != nil || cmd != ctaphid.CmdPing || !bytes.Equal(data, ping) {
		return fmt.Errorf("CTAPHID_PING: %v %x %v", cmd, data, err)
	}
	cmd, data, err = fz.call(pctx, cid, ctaphid.CmdCBOR, []byte{byte(ctap.CmdGetInfo)})
	if err != nil || cmd != ctaphid.CmdCBOR || len(data) == 0 || data[0] != 0 {
		return fmt.Errorf("getInfo: %v %x %v", cmd, data, err)
	}
	stable, err := stableInfo(data[1:])
	if err != nil {
		return changedError{was: hex.EncodeToString(fz.baseline), now: err.Error()}
	}
	if baseline {
		fz.baseline = stable
	} else if !bytes.Equal(stable, fz.baseline) {
		return changedError{was: hex.EncodeToString(fz.baseline), now: hex.EncodeToString(stable)}
	}
	return nil
}

// call sends a message on cid and returns the answer. A key still busy
// with a message the input left unfinished answers ERR_CHANNEL_BUSY until
// its transaction times out (CTAP 2.1 §11.2.9.1.6): that is right, so the
// call is repeated until ctx ends.
func (fz *fuzzer) call(ctx context.Context, cid uint32, cmd ctaphid.Cmd, msg []byte) (ctaphid.Cmd, []byte, error) {
	for {
		if err := fz.write(cid, cmd, msg); err != nil {
			return 0, nil, err
		}
		got, data, err := fz.recv(ctx, cid)
		if err != nil || got != ctaphid.CmdError || len(data) == 0 || ctaphid.ErrorCode(data[0]) != ctaphid.ErrChannelBusy {
			return got, data, err
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return got, data, ctx.Err()
		}
	}
}

func (fz *fuzzer) write(cid uint32, cmd ctaphid.Cmd, msg []byte) error {
	reps, err := ctaphid.Fragment(cid, cmd, msg)
	if err != nil {
		return err
	}
	for _, r := range reps {
		if err := fz.conn.WriteRaw(r); err != nil {
			return err
		}
	}
	return nil
}

// stableInfo returns the getInfo members that no command the fuzzer
// sends may change: versions, extensions, aaguid, pinUvAuthProtocols,
// maxMsgSize, algorithms (CTAP 2.1 §6.4: 0x01, 0x02, 0x03, 0x05, 0x06,
// 0x0A), re-encoded. U2F_V2 is left out of versions: a key drops it while
// alwaysUv is on, which authenticatorConfig's toggleAlwaysUv switches
// (CTAP 2.1 §7.2: CTAP1/U2F has no user verification).
func stableInfo(body []byte) ([]byte, error) {
	var m map[uint64]ctap.RawMessage
	if err := ctap.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("getInfo does not decode: %v", err)
	}
	keep := map[uint64]any{}
	for _, k := range []uint64{0x02, 0x03, 0x05, 0x06, 0x0A} {
		if v, ok := m[k]; ok {
			keep[k] = v
		}
	}
	if v, ok := m[0x01]; ok {
		var versions []string
		if err := ctap.Unmarshal(v, &versions); err != nil {
			return nil, fmt.Errorf("getInfo versions do not decode: %v", err)
		}
		keep[0x01] = slices.DeleteFunc(versions, func(s string) bool { return s == ctap.VersionU2FV2 })
	}
	return ctap.Marshal(keep)
}
