package fuzz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/testvectors"
)

// seedRand is a deterministic reader for the key under fuzzing.
type seedRand struct{ ctr uint64 }

func (r *seedRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 32 {
		r.ctr++
		h := sha256.Sum256([]byte{byte(r.ctr), byte(r.ctr >> 8), byte(r.ctr >> 16)})
		copy(p[i:], h[:])
	}
	return len(p), nil
}

// frame builds the reports of a CBOR message on channel cid.
func frame(cid uint32, cmd ctap.Command, params []byte) []byte {
	pkts, err := ctaphid.Fragment(cid, ctaphid.CmdCBOR, append([]byte{byte(cmd)}, params...))
	if err != nil {
		panic(err)
	}
	return bytes.Join(pkts, nil)
}

// FuzzDevice feeds arbitrary 64-byte reports to a whole virtual key. The
// key must never panic or hang, every report it sends must be a well-formed
// 64-byte packet, and it must stop when asked.
func FuzzDevice(f *testing.F) {
	init := ctaphid.InitPacket(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, []byte("fuzznonc"))
	const cid = 0x01020304
	f.Add(init)
	if vs, err := testvectors.Load("ctap"); err == nil {
		for _, v := range vs {
			body, err := v.Hex()
			if err != nil {
				continue
			}
			var cmd uint64
			for _, c := range v.Header["command"][2:] {
				cmd = cmd*16 + uint64(bytes.IndexByte([]byte("0123456789abcdef"), byte(c)))
			}
			f.Add(append(append([]byte{}, init...), frame(cid, ctap.Command(cmd), body)...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64*200 {
			return
		}
		key, err := authenticator.New(authenticator.Config{
			Rand: &seedRand{}, Now: func() time.Time { return time.Unix(1700000000, 0) },
		})
		if err != nil {
			t.Fatal(err)
		}
		dev, host := ctaphid.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		never := make(chan time.Time)
		served := make(chan error, 1)
		go func() {
			served <- ctaphid.Serve(ctx, dev, key, &ctaphid.ServerConfig{
				After: func(time.Duration) <-chan time.Time { return never },
				Rand:  &seedRand{},
			})
		}()
		drained := make(chan error, 1)
		go func() {
			for {
				rep, err := host.ReadReport()
				if err != nil {
					drained <- nil
					return
				}
				if len(rep) != ctaphid.ReportSize {
					drained <- errors.New("report of wrong size")
					return
				}
				if _, err := ctaphid.ParsePacket(rep); err != nil {
					drained <- err
					return
				}
			}
		}()
		for len(data) > 0 {
			rep := make([]byte, ctaphid.ReportSize)
			n := copy(rep, data)
			data = data[n:]
			if err := host.WriteReport(rep); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		cancel()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not stop after cancel")
		}
		dev.Close()
		host.Close()
		if err := <-drained; err != nil {
			t.Fatalf("device sent a malformed report: %v", err)
		}
	})
}
