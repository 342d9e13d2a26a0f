package conformance

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Raw CTAPHID framing cases (CTAP 2.1 §11.2). They drive the key with
// hand-built 64-byte reports and read its reports back.

// raw is a case's raw view of the key's HID interface.
type raw struct {
	t    *T
	conn *ctaphid.Conn
}

func (t *T) rawHID() *raw {
	return &raw{t: t, conn: t.OpenDevice().Conn()}
}

func (r *raw) write(report []byte) {
	if err := r.conn.WriteRaw(report); err != nil {
		r.t.Fatalf("write report: %v", err)
	}
}

// read returns the next packet from the key, skipping KEEPALIVE packets.
func (r *raw) read() ctaphid.Packet {
	for {
		rep, err := r.conn.ReadRaw(r.t.ctx)
		if err != nil {
			r.t.Fatalf("read report: %v", err)
		}
		if len(rep) != ctaphid.ReportSize {
			r.t.Fatalf("report of %d bytes, want %d", len(rep), ctaphid.ReportSize)
		}
		p, err := ctaphid.ParsePacket(rep)
		if err != nil {
			r.t.Fatalf("parse report %x: %v", rep, err)
		}
		if p.Init && p.Cmd == ctaphid.CmdKeepalive {
			continue
		}
		return p
	}
}

// readMessage reads one whole message that starts with the next packet.
func (r *raw) readMessage() ctaphid.Message {
	p := r.read()
	if !p.Init {
		r.t.Fatalf("got continuation packet on %08x, want an initialization packet", p.CID)
	}
	n := int(p.BCNT)
	data := append([]byte(nil), p.Data[:min(n, len(p.Data))]...)
	for seq := byte(0); len(data) < n; seq++ {
		c := r.read()
		if c.Init || c.CID != p.CID || c.Seq != seq {
			r.t.Fatalf("continuation: got %+v, want seq %d on %08x", c, seq, p.CID)
		}
		data = append(data, c.Data[:min(n-len(data), len(c.Data))]...)
	}
	return ctaphid.Message{CID: p.CID, Cmd: p.Cmd, Data: data}
}

// send fragments and writes a message.
func (r *raw) send(cid uint32, cmd ctaphid.Cmd, data []byte) {
	pkts, err := ctaphid.Fragment(cid, cmd, data)
	if err != nil {
		r.t.Fatalf("fragment: %v", err)
	}
	for _, p := range pkts {
		r.write(p)
	}
}

// expectError reads the next message and fails unless it is CTAPHID_ERROR
// with code want on channel cid.
func (r *raw) expectError(cid uint32, want ctaphid.ErrorCode, what string) {
	m := r.readMessage()
	if m.Cmd != ctaphid.CmdError || len(m.Data) != 1 {
		r.t.Fatalf("%s: got %v %x, want CTAPHID_ERROR %v", what, m.Cmd, m.Data, want)
	}
	if got := ctaphid.ErrorCode(m.Data[0]); got != want || m.CID != cid {
		r.t.Fatalf("%s: got error %v on %08x, want %v on %08x", what, got, m.CID, want, cid)
	}
}

// init allocates a channel with INIT on the broadcast channel and checks
// the response layout (CTAP 2.1 §11.2.9.1.3).
func (r *raw) init() uint32 {
	nonce := make([]byte, 8)
	rand.Read(nonce)
	r.write(ctaphid.InitPacket(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, nonce))
	m := r.readMessage()
	if m.CID != ctaphid.BroadcastCID || m.Cmd != ctaphid.CmdInit || len(m.Data) < 17 {
		r.t.Fatalf("INIT response: %v on %08x with %d bytes, want INIT on ffffffff with 17", m.Cmd, m.CID, len(m.Data))
	}
	if !bytes.Equal(m.Data[:8], nonce) {
		r.t.Fatalf("INIT response nonce %x, want %x", m.Data[:8], nonce)
	}
	cid := binary.BigEndian.Uint32(m.Data[8:12])
	if cid == 0 || cid == ctaphid.BroadcastCID {
		r.t.Fatalf("INIT allocated reserved channel %08x", cid)
	}
	return cid
}

// ping sends a PING and checks the echo, proving the channel is usable and
// that nothing else was queued before the answer.
func (r *raw) ping(cid uint32, data []byte) {
	r.send(cid, ctaphid.CmdPing, data)
	m := r.readMessage()
	if m.CID != cid || m.Cmd != ctaphid.CmdPing || !bytes.Equal(m.Data, data) {
		r.t.Fatalf("PING on %08x: got %v on %08x with %d bytes, want the echo", cid, m.Cmd, m.CID, len(m.Data))
	}
}

// needLock skips the case unless the key implements CTAPHID_LOCK, one
// of the optional commands (CTAP 2.1 §11.2.9.2): it sends LOCK 0, which
// releases a lock the channel does not hold, and reads the answer.
func (r *raw) needLock(cid uint32) {
	r.send(cid, ctaphid.CmdLock, []byte{0})
	m := r.readMessage()
	switch {
	case m.Cmd == ctaphid.CmdError && len(m.Data) == 1 && ctaphid.ErrorCode(m.Data[0]) == ctaphid.ErrInvalidCmd:
		r.t.Skipf("key does not implement the optional CTAPHID_LOCK")
	case m.Cmd != ctaphid.CmdLock || m.CID != cid:
		r.t.Fatalf("LOCK 0: got %v %x on %08x, want LOCK on %08x or ERR_INVALID_CMD", m.Cmd, m.Data, m.CID, cid)
	}
}

func init() {
	Register(
		Case{ID: "hid-init-allocates-channel", Section: "CTAP 2.1 §11.2.9.1.3",
			Title:    "INIT on the broadcast channel echoes the nonce and allocates a channel",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				nonce := []byte{1, 2, 3, 4, 5, 6, 7, 8}
				r.write(ctaphid.InitPacket(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, nonce))
				m := r.readMessage()
				Equal(t, "response channel", m.CID, ctaphid.BroadcastCID)
				Equal(t, "response command", m.Cmd, ctaphid.CmdInit)
				Equal(t, "response length", len(m.Data), 17)
				if !bytes.Equal(m.Data[:8], nonce) {
					t.Fatalf("nonce %x, want %x", m.Data[:8], nonce)
				}
				Equal(t, "CTAPHID protocol version", m.Data[12], byte(2))
				// CAPABILITY_CBOR is clear on a U2F-only key: recorded,
				// not judged here.
				t.Observef("capabilities %02x", m.Data[16])
				cid := binary.BigEndian.Uint32(m.Data[8:12])
				if cid == 0 || cid == ctaphid.BroadcastCID {
					t.Fatalf("allocated reserved channel %08x", cid)
				}
				r.ping(cid, []byte("hello"))
			}},
		Case{ID: "hid-init-unique-channels", Section: "CTAP 2.1 §11.2.9.1.3",
			Title:    "successive INITs allocate different channels",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				seen := map[uint32]bool{}
				for i := 0; i < 5; i++ {
					cid := r.init()
					if seen[cid] {
						t.Fatalf("channel %08x allocated twice", cid)
					}
					seen[cid] = true
				}
			}},
		Case{ID: "hid-init-resync", Section: "CTAP 2.1 §11.2.9.1.3",
			Title:    "INIT on an allocated channel answers on that channel with the same channel ID",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				nonce := []byte("resync!!")
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdInit, 8, nonce))
				m := r.readMessage()
				Equal(t, "response channel", m.CID, cid)
				Equal(t, "response command", m.Cmd, ctaphid.CmdInit)
				if !bytes.Equal(m.Data[:8], nonce) {
					t.Fatalf("nonce %x, want %x", m.Data[:8], nonce)
				}
				Equal(t, "channel in response", binary.BigEndian.Uint32(m.Data[8:12]), cid)
			}},
		Case{ID: "hid-init-aborts-pending", Section: "CTAP 2.1 §11.2.9.1.3",
			Title:    "INIT in the middle of a multi-packet message aborts it and the channel works",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdPing, 100, bytes.Repeat([]byte{0xAA}, 57)))
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdInit, 8, []byte("abortabt")))
				m := r.readMessage()
				Equal(t, "response command", m.Cmd, ctaphid.CmdInit)
				Equal(t, "response channel", m.CID, cid)
				r.ping(cid, []byte("after abort"))
			}},
		Case{ID: "hid-init-bad-length", Section: "CTAP 2.1 §11.2.9.1.3",
			Title:    "INIT with a 7-byte nonce gets ERR_INVALID_LEN",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				r.write(ctaphid.InitPacket(ctaphid.BroadcastCID, ctaphid.CmdInit, 7, []byte("1234567")))
				r.expectError(ctaphid.BroadcastCID, ctaphid.ErrInvalidLen, "INIT with 7 bytes")
			}},
		Case{ID: "hid-ping-echo", Section: "CTAP 2.1 §11.2.9.1.4",
			Title:    "PING echoes payloads of 0, 1, 57, 58 and 1000 bytes",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				for _, n := range []int{0, 1, 57, 58, 1000} {
					data := make([]byte, n)
					for i := range data {
						data[i] = byte(i * 7)
					}
					r.ping(cid, data)
				}
			}},
		Case{ID: "hid-ping-max-message", Section: "CTAP 2.1 §11.2.4",
			Title:    "PING echoes a message of the largest size, 7609 bytes (57 + 128 × 59)",
			Versions: Any,
			Run: func(t *T) {
				data := make([]byte, 7609)
				rand.Read(data)
				got, err := t.Device().Conn().Ping(t.ctx, data)
				if err != nil {
					t.Fatalf("PING 7609 bytes: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("PING echo differs")
				}
			}},
		Case{ID: "hid-message-too-long", Section: "CTAP 2.1 §11.2.4",
			Title:    "a message length over 7609 gets ERR_INVALID_LEN",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdPing, 7610, nil))
				r.expectError(cid, ctaphid.ErrInvalidLen, "PING of 7610 bytes")
				r.ping(cid, []byte("still alive"))
			}},
		Case{ID: "hid-invalid-command", Section: "CTAP 2.1 §11.2.9.1.6",
			Title:    "an unknown CTAPHID command gets ERR_INVALID_CMD",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.InitPacket(cid, ctaphid.Cmd(0x2A), 0, nil))
				r.expectError(cid, ctaphid.ErrInvalidCmd, "command 0x2A")
			}},
		Case{ID: "hid-nmsg-msg-refused", Section: "CTAP 2.1 §11.2.9.1.3, §11.2.9.1.6",
			Title:    "a key whose INIT sets CAPABILITY_NMSG answers CTAPHID_MSG with ERR_INVALID_CMD",
			Versions: CTAP2,
			Run: func(t *T) {
				// §11.2.9.1.3: NMSG "If set to 1, authenticator DOES NOT
				// implement CTAPHID_MSG function"; a command the key does
				// not implement is ERR_INVALID_CMD (§11.2.9.1.6), as for
				// hid-invalid-command.
				if t.Device().Conn().Info().Capabilities&ctaphid.CapNMsg == 0 {
					t.Skipf("not this feature: the key implements CTAPHID_MSG (CAPABILITY_NMSG clear)")
				}
				r := t.rawHID()
				cid := r.init()
				r.send(cid, ctaphid.CmdMsg, []byte{0, ctap.U2FVersion, 0, 0, 0, 0, 0})
				r.expectError(cid, ctaphid.ErrInvalidCmd, "CTAPHID_MSG U2F_VERSION")
				r.ping(cid, []byte("still alive"))
			}},
		Case{ID: "hid-broadcast-not-init", Section: "CTAP 2.1 §11.2.4",
			Title:    "a PING on the broadcast channel gets ERR_INVALID_CHANNEL",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				r.write(ctaphid.InitPacket(ctaphid.BroadcastCID, ctaphid.CmdPing, 4, []byte("ping")))
				r.expectError(ctaphid.BroadcastCID, ctaphid.ErrInvalidChannel, "PING on the broadcast channel")
			}},
		Case{ID: "hid-channel-zero", Section: "CTAP 2.1 §11.2.4",
			Title:    "a PING on reserved channel 0 should get ERR_INVALID_CHANNEL",
			Versions: Any, Level: Should,
			Run: func(t *T) {
				r := t.rawHID()
				r.write(ctaphid.InitPacket(0, ctaphid.CmdPing, 4, []byte("ping")))
				r.expectError(0, ctaphid.ErrInvalidChannel, "PING on channel 0")
			}},
		Case{ID: "hid-unallocated-channel", Section: "CTAP 2.1 §11.2.4",
			Title:    "a PING on a channel never allocated should get ERR_INVALID_CHANNEL",
			Versions: Any, Level: Should,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				other := cid ^ 0x5A5A0000
				r.write(ctaphid.InitPacket(other, ctaphid.CmdPing, 4, []byte("ping")))
				r.expectError(other, ctaphid.ErrInvalidChannel, "PING on an unallocated channel")
			}},
		Case{ID: "hid-wrong-sequence", Section: "CTAP 2.1 §11.2.5.4",
			Title:    "a continuation packet out of sequence gets ERR_INVALID_SEQ",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdPing, 120, bytes.Repeat([]byte{1}, 57)))
				r.write(ctaphid.ContPacket(cid, 1, bytes.Repeat([]byte{2}, 59)))
				r.expectError(cid, ctaphid.ErrInvalidSeq, "continuation with sequence 1 first")
				r.ping(cid, []byte("recovered"))
			}},
		Case{ID: "hid-init-instead-of-continuation", Section: "CTAP 2.1 §11.2.5.4",
			Title:    "an initialization packet where a continuation was due gets ERR_INVALID_SEQ",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdPing, 120, bytes.Repeat([]byte{1}, 57)))
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdPing, 4, []byte("ping")))
				r.expectError(cid, ctaphid.ErrInvalidSeq, "PING while a PING was incomplete")
				r.ping(cid, []byte("recovered"))
			}},
		Case{ID: "hid-spurious-continuation", Section: "CTAP 2.1 §11.2.5.4",
			Title:    "a continuation packet with nothing pending is ignored",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.ContPacket(cid, 0, []byte("stray")))
				r.ping(cid, []byte("no answer to the stray packet came first"))
			}},
		Case{ID: "hid-channel-busy", Section: "CTAP 2.1 §11.2.5.3",
			Title:    "a second channel gets ERR_CHANNEL_BUSY while a message on the first is incomplete",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				a, b := r.init(), r.init()
				data := bytes.Repeat([]byte{0x5C}, 100)
				pkts, _ := ctaphid.Fragment(a, ctaphid.CmdPing, data)
				r.write(pkts[0])
				r.write(ctaphid.InitPacket(b, ctaphid.CmdPing, 4, []byte("ping")))
				r.expectError(b, ctaphid.ErrChannelBusy, "PING on a second channel")
				r.write(pkts[1])
				m := r.readMessage()
				if m.CID != a || m.Cmd != ctaphid.CmdPing || !bytes.Equal(m.Data, data) {
					t.Fatalf("first channel's PING: got %v on %08x", m.Cmd, m.CID)
				}
				r.ping(b, []byte("now free"))
			}},
		Case{ID: "hid-cbor-empty", Section: "CTAP 2.1 §11.2.9.1.2",
			Title:    "a CBOR message with no bytes gets ERR_INVALID_LEN",
			Versions: CTAP2,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdCBOR, 0, nil))
				r.expectError(cid, ctaphid.ErrInvalidLen, "empty CBOR message")
			}},
		Case{ID: "hid-cbor-getinfo-raw", Section: "CTAP 2.1 §11.2.9.1.2",
			Title:    "a CBOR message answers on the same channel with the same command",
			Versions: CTAP2,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.send(cid, ctaphid.CmdCBOR, []byte{byte(ctap.CmdGetInfo)})
				m := r.readMessage()
				Equal(t, "channel", m.CID, cid)
				Equal(t, "command", m.Cmd, ctaphid.CmdCBOR)
				if len(m.Data) < 2 || m.Data[0] != byte(ctap.StatusOK) {
					t.Fatalf("getInfo response %x, want status 00 and a body", m.Data)
				}
			}},
		Case{ID: "hid-lock", Section: "CTAP 2.1 §11.2.9.2.2",
			Title:    "LOCK reserves the key for one channel until LOCK 0",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				a, b := r.init(), r.init()
				r.needLock(a)
				r.send(a, ctaphid.CmdLock, []byte{5})
				m := r.readMessage()
				if m.CID != a || m.Cmd != ctaphid.CmdLock || len(m.Data) != 0 {
					t.Fatalf("LOCK response %v on %08x, want empty LOCK on %08x", m.Cmd, m.CID, a)
				}
				r.write(ctaphid.InitPacket(b, ctaphid.CmdPing, 4, []byte("ping")))
				r.expectError(b, ctaphid.ErrChannelBusy, "PING from another channel while locked")
				r.ping(a, []byte("owner"))
				r.send(a, ctaphid.CmdLock, []byte{0})
				if m := r.readMessage(); m.Cmd != ctaphid.CmdLock {
					t.Fatalf("LOCK 0 response %v", m.Cmd)
				}
				r.ping(b, []byte("unlocked"))
			}},
		Case{ID: "hid-lock-bad-length", Section: "CTAP 2.1 §11.2.9.2.2",
			Title:    "LOCK with two bytes gets ERR_INVALID_LEN, with 11 seconds ERR_INVALID_PAR",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.needLock(cid)
				r.send(cid, ctaphid.CmdLock, []byte{1, 2})
				r.expectError(cid, ctaphid.ErrInvalidLen, "LOCK with two bytes")
				r.send(cid, ctaphid.CmdLock, []byte{11})
				r.expectError(cid, ctaphid.ErrInvalidPar, "LOCK for 11 seconds")
			}},
		Case{ID: "hid-cancel-idle", Section: "CTAP 2.1 §11.2.9.1.5",
			Title:    "CANCEL with nothing running gets no answer",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdCancel, 0, nil))
				r.ping(cid, []byte("no answer to CANCEL came first"))
			}},
		Case{ID: "hid-cancel-up-wait", Section: "CTAP 2.1 §11.2.9.1.5",
			Title:    "CANCEL while makeCredential waits for a touch ends it with CTAP2_ERR_KEEPALIVE_CANCEL",
			Needs:    []Capability{CapControl},
			Versions: CTAP2,
			Run: func(t *T) {
				t.SetPresence(PresenceWait)
				r := t.rawHID()
				cid := r.init()
				params := t.Encode(t.MakeCredentialRequest("cancel", false))
				r.send(cid, ctaphid.CmdCBOR, append([]byte{byte(ctap.CmdMakeCredential)}, params...))
				// Wait for the key to say it needs the user, then cancel.
				for {
					rep, err := r.conn.ReadRaw(t.ctx)
					if err != nil {
						t.Fatalf("waiting for KEEPALIVE: %v", err)
					}
					p, err := ctaphid.ParsePacket(rep)
					if err != nil {
						t.Fatalf("parse: %v", err)
					}
					if p.Init && p.Cmd == ctaphid.CmdKeepalive && p.CID == cid {
						if ctaphid.KeepaliveStatus(p.Data[0]) == ctaphid.StatusUPNeeded {
							break
						}
						continue
					}
					t.Fatalf("got %v before a KEEPALIVE UPNEEDED", p.Cmd)
				}
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdCancel, 0, nil))
				m := r.readMessage()
				Equal(t, "command", m.Cmd, ctaphid.CmdCBOR)
				if len(m.Data) != 1 || ctap.Status(m.Data[0]) != ctap.StatusKeepaliveCancel {
					t.Fatalf("response %x, want %02x (%v)", m.Data, byte(ctap.StatusKeepaliveCancel), ctap.StatusKeepaliveCancel)
				}
			}},
		Case{ID: "hid-keepalive-processing", Section: "CTAP 2.1 §11.2.9.1.7",
			Title:    "while a command waits, KEEPALIVE packets arrive on its channel with a valid status",
			Needs:    []Capability{CapControl},
			Versions: CTAP2,
			Run: func(t *T) {
				t.SetPresence(PresenceWait)
				var statuses []ctaphid.KeepaliveStatus
				ctx, cancel := contextWithCancel(t)
				defer cancel()
				var mu sync.Mutex
				// makeCredential, not selection: every CTAP2 key has it.
				_, err := t.Ctap2().MakeCredential(ctx, t.MakeCredentialRequest("keepalive", false), clientKeepalive(func(s ctaphid.KeepaliveStatus) {
					mu.Lock()
					defer mu.Unlock()
					if len(statuses) < 3 {
						statuses = append(statuses, s)
					}
					if len(statuses) == 3 {
						cancel()
					}
				}))
				mu.Lock()
				defer mu.Unlock()
				t.ExpectStatus(err, ctap.StatusKeepaliveCancel, "makeCredential cancelled after three keepalives")
				for _, s := range statuses {
					if s != ctaphid.StatusProcessing && s != ctaphid.StatusUPNeeded {
						t.Fatalf("keepalive status %d", s)
					}
				}
				Equal(t, "last keepalive status", statuses[len(statuses)-1], ctaphid.StatusUPNeeded)
			}},
		Case{ID: "hid-wink", Section: "CTAP 2.1 §11.2.9.2.1",
			Title:    "WINK answers with an empty WINK when the key advertises CAPABILITY_WINK",
			Versions: Any,
			Run: func(t *T) {
				conn := t.Device().Conn()
				if conn.Info().Capabilities&ctaphid.CapWink == 0 {
					t.Skipf("key does not advertise CAPABILITY_WINK")
				}
				if err := conn.Wink(t.ctx); err != nil {
					t.Fatalf("WINK: %v", err)
				}
			}},
		Case{ID: "hid-msg-timeout", Section: "CTAP 2.1 §11.2.5.2",
			Title:    "a message whose continuation never comes gets ERR_MSG_TIMEOUT",
			Versions: Any,
			Run: func(t *T) {
				r := t.rawHID()
				cid := r.init()
				start := time.Now()
				r.write(ctaphid.InitPacket(cid, ctaphid.CmdPing, 100, bytes.Repeat([]byte{3}, 57)))
				r.expectError(cid, ctaphid.ErrMsgTimeout, "incomplete PING")
				t.Logf("timed out after %v", time.Since(start).Round(time.Millisecond))
				r.ping(cid, []byte("after timeout"))
			}},
	)
}
