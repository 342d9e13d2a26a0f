package devfuzz

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// member is one key/value pair of a CBOR map, each as its encoded bytes.
type member struct{ k, v []byte }

// splitMap splits an encoded CBOR map (definite length) into its members.
// It returns false for anything else.
func splitMap(b []byte) ([]member, bool) {
	n, rest, ok := head(b, 5)
	if !ok || n > 64 {
		return nil, false
	}
	ms := make([]member, 0, n)
	for range n {
		k, r, err := item(rest)
		if err != nil {
			return nil, false
		}
		v, r2, err := item(r)
		if err != nil {
			return nil, false
		}
		ms = append(ms, member{k, v})
		rest = r2
	}
	return ms, len(rest) == 0
}

// item returns the first CBOR item of b and what follows it.
func item(b []byte) ([]byte, []byte, error) {
	var raw ctap.RawMessage
	rest, err := ctap.UnmarshalFirst(b, &raw)
	if err != nil {
		return nil, nil, err
	}
	return b[:len(b)-len(rest)], rest, nil
}

// head decodes the head of a CBOR item of the given major type with a
// definite argument (RFC 8949 §3).
func head(b []byte, major byte) (uint64, []byte, bool) {
	if len(b) == 0 || b[0]>>5 != major {
		return 0, nil, false
	}
	info := b[0] & 0x1f
	switch {
	case info < 24:
		return uint64(info), b[1:], true
	case info == 24 && len(b) >= 2:
		return uint64(b[1]), b[2:], true
	case info == 25 && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), b[3:], true
	case info == 26 && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), b[5:], true
	}
	return 0, nil, false
}

// appendHead appends the shortest head for major type and argument n.
func appendHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major<<5|byte(n))
	case n < 1<<8:
		return append(b, major<<5|24, byte(n))
	case n < 1<<16:
		return append(b, major<<5|25, byte(n>>8), byte(n))
	default:
		return append(b, major<<5|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func joinMap(ms []member) []byte {
	out := appendHead(nil, 5, uint64(len(ms)))
	for _, m := range ms {
		out = append(append(out, m.k...), m.v...)
	}
	return out
}

// values is a palette of CBOR items of every major type and of simple
// values, for replacing a member's value with one of another type.
func values(r *rand.Rand) []byte {
	switch r.IntN(14) {
	case 0:
		return []byte{0x00}
	case 1:
		return []byte{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // 2^64-1
	case 2:
		return []byte{0x38, 0x63} // -100
	case 3:
		return appendBytes(nil, 2, r.IntN(80), r)
	case 4:
		return appendBytes(nil, 3, r.IntN(80), r)
	case 5:
		return []byte{0x80}
	case 6:
		return []byte{0x83, 0x01, 0x02, 0x03}
	case 7:
		return []byte{0xa0}
	case 8:
		return []byte{0xf4}
	case 9:
		return []byte{0xf5}
	case 10:
		return []byte{0xf6} // null
	case 11:
		return []byte{0xf7} // undefined
	case 12:
		return []byte{0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0} // 1.0
	default:
		return []byte{0xc2, 0x41, 0x01} // a tag
	}
}

// appendBytes appends a byte (major 2) or text (major 3) string of n
// random bytes (text strings get printable ASCII).
func appendBytes(b []byte, major byte, n int, r *rand.Rand) []byte {
	b = appendHead(b, major, uint64(n))
	for range n {
		c := byte(r.UintN(256))
		if major == 3 {
			c = 'a' + c%26
		}
		b = append(b, c)
	}
	return b
}

// mutateMap changes one thing about an encoded CBOR map, descending into
// nested maps now and then. It names what it did.
func mutateMap(b []byte, r *rand.Rand, depth int) ([]byte, string) {
	ms, ok := splitMap(b)
	if !ok || len(ms) == 0 {
		return mutateBytes(b, r)
	}
	i := r.IntN(len(ms))
	key := fmt.Sprintf("%x", ms[i].k)
	switch r.IntN(11) {
	case 0:
		return joinMap(slices.Delete(slices.Clone(ms), i, i+1)), "drop member " + key
	case 1:
		return joinMap(slices.Insert(slices.Clone(ms), i, ms[i])), "duplicate member " + key
	case 2:
		extra := member{k: []byte{0x18, 0x7f}, v: values(r)}
		if r.IntN(2) == 0 {
			extra.k = []byte{0x62, 'z', 'z'}
		}
		return joinMap(append(slices.Clone(ms), extra)), "add unknown member"
	case 3:
		out := slices.Clone(ms)
		out[i].v = values(r)
		return joinMap(out), fmt.Sprintf("member %s: value %x", key, out[i].v)
	case 4:
		out := slices.Clone(ms)
		if v := out[i].v; len(v) > 0 && (v[0]>>5 == 2 || v[0]>>5 == 3) {
			major := v[0] >> 5
			if n, rest, ok := head(v, major); ok && int(n) <= len(rest) {
				cut := []int{int(n) / 2, int(n) + 1 + r.IntN(40), 0}[r.IntN(3)]
				body := append(slices.Clone(rest[:n]), make([]byte, max(0, cut-int(n)))...)[:cut]
				out[i].v = append(appendHead(nil, major, uint64(cut)), body...)
				return joinMap(out), fmt.Sprintf("member %s: length %d → %d", key, n, cut)
			}
		}
		out[i].v = append([]byte{0x81}, out[i].v...)
		return joinMap(out), "member " + key + ": wrapped in an array"
	case 5:
		if len(ms) > 1 {
			j := (i + 1) % len(ms)
			out := slices.Clone(ms)
			out[i], out[j] = out[j], out[i]
			return joinMap(out), "members out of canonical order"
		}
		fallthrough
	case 6:
		// A non-shortest head for the map itself.
		body := joinMap(ms)[len(appendHead(nil, 5, uint64(len(ms)))):]
		return append([]byte{0xb8, byte(len(ms))}, body...), "map head not shortest"
	case 7:
		body := joinMap(ms)[len(appendHead(nil, 5, uint64(len(ms)))):]
		return append(append([]byte{0xbf}, body...), 0xff), "indefinite-length map"
	case 8:
		return append(joinMap(ms), values(r)...), "trailing bytes"
	case 9:
		if depth < 3 {
			if _, ok := splitMap(ms[i].v); ok {
				out := slices.Clone(ms)
				v, what := mutateMap(ms[i].v, r, depth+1)
				out[i].v = v
				return joinMap(out), "in member " + key + ": " + what
			}
		}
		fallthrough
	default:
		return mutateBytes(joinMap(ms), r)
	}
}

// mutateBytes flips, cuts or inserts bytes.
func mutateBytes(b []byte, r *rand.Rand) ([]byte, string) {
	out := slices.Clone(b)
	switch {
	case len(out) > 0 && r.IntN(3) == 0:
		i := r.IntN(len(out))
		out[i] ^= 1 << r.IntN(8)
		return out, fmt.Sprintf("bit flip at %d", i)
	case len(out) > 1 && r.IntN(2) == 0:
		n := r.IntN(len(out))
		return out[:n], fmt.Sprintf("cut to %d bytes", n)
	default:
		i := r.IntN(len(out) + 1)
		ins := make([]byte, 1+r.IntN(8))
		for j := range ins {
			ins[j] = byte(r.UintN(256))
		}
		return slices.Insert(out, i, ins...), fmt.Sprintf("%d bytes inserted at %d", len(ins), i)
	}
}

// frames fragments a CTAPHID message for channel ch.
func frames(ch int, cmd ctaphid.Cmd, msg []byte) []Frame {
	reps, err := ctaphid.Fragment(0, cmd, msg)
	if err != nil {
		panic(err) // callers keep messages within MaxMessageSize
	}
	out := make([]Frame, len(reps))
	for i, rep := range reps {
		out[i] = Frame{Chan: ch, Report: rep}
	}
	return out
}

// mutateFraming changes the CTAPHID framing of an input's frames: lengths,
// sequence numbers, channels, interleaving, and INIT or CANCEL in the
// middle of a message (CTAP 2.1 §11.2.4, §11.2.9.1).
func mutateFraming(fs []Frame, r *rand.Rand) ([]Frame, string) {
	out := make([]Frame, len(fs))
	for i, f := range fs {
		out[i] = Frame{Chan: f.Chan, Report: slices.Clone(f.Report)}
	}
	i := r.IntN(len(out))
	f := &out[i]
	isInit := f.Report[4]&0x80 != 0
	switch r.IntN(12) {
	case 0:
		if isInit {
			binary.BigEndian.PutUint16(f.Report[5:], uint16(r.UintN(ctaphid.MaxMessageSize+200)))
			return out, fmt.Sprintf("frame %d: BCNT %d", i, binary.BigEndian.Uint16(f.Report[5:]))
		}
		f.Report[4] = byte(r.UintN(0x80))
		return out, fmt.Sprintf("frame %d: SEQ %d", i, f.Report[4])
	case 1:
		if len(out) > 1 {
			return slices.Delete(out, i, i+1), fmt.Sprintf("frame %d dropped", i)
		}
		fallthrough
	case 2:
		return slices.Insert(out, i, out[i]), fmt.Sprintf("frame %d sent twice", i)
	case 3:
		f.Chan = 1
		return out, fmt.Sprintf("frame %d on the other channel", i)
	case 4:
		init := Frame{Chan: 1, Report: ctaphid.InitPacket(0, ctaphid.CmdPing, 8, []byte("pingping"))}
		return slices.Insert(out, i, init), fmt.Sprintf("PING on the other channel before frame %d", i)
	case 5:
		cancel := Frame{Chan: r.IntN(2), Report: ctaphid.InitPacket(0, ctaphid.CmdCancel, 0, nil)}
		return slices.Insert(out, i+1, cancel), fmt.Sprintf("CANCEL on channel %d after frame %d", cancel.Chan, i)
	case 6:
		nonce := make([]byte, 8)
		for j := range nonce {
			nonce[j] = byte(r.UintN(256))
		}
		init := Frame{Chan: 0, Report: ctaphid.InitPacket(0, ctaphid.CmdInit, 8, nonce)}
		return slices.Insert(out, i+1, init), fmt.Sprintf("INIT on the channel after frame %d", i)
	case 7:
		f.Chan = -1
		binary.BigEndian.PutUint32(f.Report, []uint32{0, ctaphid.BroadcastCID, r.Uint32()}[r.IntN(3)])
		return out, fmt.Sprintf("frame %d on CID %08x", i, binary.BigEndian.Uint32(f.Report))
	case 8:
		if isInit {
			f.Report[4] = 0x80 | byte(r.UintN(0x80))
			return out, fmt.Sprintf("frame %d: command 0x%02x", i, f.Report[4]&0x7f)
		}
		fallthrough
	case 9:
		j := r.IntN(len(out))
		out[i], out[j] = out[j], out[i]
		return out, fmt.Sprintf("frames %d and %d swapped", i, j)
	case 10:
		f.Report[r.IntN(len(f.Report))] ^= 1 << r.IntN(8)
		return out, fmt.Sprintf("frame %d: bit flip", i)
	default:
		return out[:i+1], fmt.Sprintf("message cut after frame %d", i)
	}
}
