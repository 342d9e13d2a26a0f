package ctap

import (
	"bytes"
	"testing"
)

func TestReadHead(t *testing.T) {
	for _, tc := range []struct {
		in    []byte
		major byte
		arg   uint64
		n     int
		e     HeadError
	}{
		{nil, 0, 0, 0, HeadShort},
		{[]byte{0x17}, 0, 23, 1, HeadOK},
		{[]byte{0x18, 0x18}, 0, 24, 2, HeadOK},
		{[]byte{0x18, 0x17}, 0, 23, 2, HeadNotShortest},
		{[]byte{0x59, 0x01, 0x00}, 2, 256, 3, HeadOK},
		{[]byte{0x59, 0x00, 0xff}, 2, 255, 3, HeadNotShortest},
		{[]byte{0x59, 0x01}, 2, 0, 0, HeadShort},
		{[]byte{0x3a, 0x00, 0x01, 0x00, 0x00}, 1, 1 << 16, 5, HeadOK},
		{[]byte{0x3a, 0x00, 0x00, 0xff, 0xff}, 1, 0xffff, 5, HeadNotShortest},
		{[]byte{0x9b, 0, 0, 0, 1, 0, 0, 0, 0}, 4, 1 << 32, 9, HeadOK},
		{[]byte{0x9b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 4, 0xffffffff, 9, HeadNotShortest},
		{[]byte{0x9b, 0, 0, 0, 1, 0, 0, 0}, 4, 0, 0, HeadShort},
		{[]byte{0xbf}, 5, 0, 0, HeadIndefinite},
		{[]byte{0x1c}, 0, 0, 0, HeadIndefinite},
		{[]byte{0xf5}, 7, 21, 1, HeadOK},
		// Major type 7 is returned as encoded: a half float 0.0, and a
		// simple value in two bytes that the callers refuse.
		{[]byte{0xf9, 0x00, 0x00}, 7, 0, 3, HeadOK},
		{[]byte{0xf8, 0x14}, 7, 20, 2, HeadOK},
	} {
		major, ai, arg, n, e := ReadHead(tc.in)
		if major != tc.major || arg != tc.arg || n != tc.n || e != tc.e {
			t.Errorf("ReadHead(% x) = major %d, arg %d, n %d, %d; want %d, %d, %d, %d", tc.in, major, arg, n, e, tc.major, tc.arg, tc.n, tc.e)
		}
		if len(tc.in) > 0 && ai != tc.in[0]&0x1f {
			t.Errorf("ReadHead(% x): additional information %d", tc.in, ai)
		}
	}
}

// FuzzReadHead: a head ReadHead accepts, other than of major type 7, is
// the shortest encoding of its argument, the one appendCBORHead writes;
// and every head appendCBORHead writes is read back.
func FuzzReadHead(f *testing.F) {
	addRequestVectors(f)
	f.Fuzz(func(t *testing.T, _ byte, data []byte) {
		major, _, arg, n, e := ReadHead(data)
		if e != HeadOK {
			if n != 0 && e != HeadNotShortest {
				t.Fatalf("% x: error %d with length %d", data, e, n)
			}
			return
		}
		if n < 1 || n > len(data) {
			t.Fatalf("% x: length %d", data, n)
		}
		if major == 7 {
			return
		}
		if enc := appendCBORHead(nil, major, arg); !bytes.Equal(enc, data[:n]) {
			t.Fatalf("% x read as major %d, argument %d, which encodes as % x", data[:n], major, arg, enc)
		}
		if len(data) >= 9 {
			v := uint64(data[1])<<56 | uint64(data[8])
			enc := appendCBORHead(nil, major, v)
			if m, _, got, k, e := ReadHead(enc); m != major || got != v || k != len(enc) || e != HeadOK {
				t.Fatalf("%d written as % x, read back as %d, %d, %d, %d", v, enc, m, got, k, e)
			}
		}
	})
}
