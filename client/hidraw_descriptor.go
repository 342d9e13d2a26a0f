package client

import (
	"errors"
	"fmt"
)

// The FIDO HID usage page and the usage of its application collection
// (CTAP 2.1 §11.2.8.1).
const (
	hidUsagePageFIDO = 0xF1D0 // FIDO Alliance
	hidUsageCTAPHID  = 0x01   // CTAPHID authenticator: the application collection
)

// errReportDescriptor is a HID report descriptor this package cannot read.
var errReportDescriptor = errors.New("client: malformed HID report descriptor")

// Bounds that keep a hostile descriptor from costing much.
const (
	maxGlobalStack     = 32      // Push items outstanding
	maxCollectionDepth = 64      // nested collections
	maxReportBits      = 1 << 19 // 64 KiB, far above hidraw's HID_MAX_BUFFER_SIZE
)

// hidCollection is a top-level application collection of a report
// descriptor with the sizes of the reports its main items declare.
type hidCollection struct {
	UsagePage, Usage uint16
	// InputBits and OutputBits are the size of the largest input and output
	// report in the collection, in bits, without the report-ID byte.
	InputBits, OutputBits int
	// ReportIDs is whether the collection's reports carry a report ID.
	ReportIDs bool
}

// InputReportSize is the input report size in bytes.
func (c hidCollection) InputReportSize() int { return (c.InputBits + 7) / 8 }

// OutputReportSize is the output report size in bytes.
func (c hidCollection) OutputReportSize() int { return (c.OutputBits + 7) / 8 }

// hidGlobals is the global item state (HID 1.11 §6.2.2.7) the parser needs.
type hidGlobals struct {
	usagePage   uint16
	reportSize  uint32
	reportCount uint32
	reportID    uint32
}

// parseReportDescriptor reads the items of a HID report descriptor
// (Device Class Definition for HID 1.11 §6.2.2) and returns its top-level
// application collections. It keeps only what finding a FIDO interface
// needs: usage pages and usages, Report Size, Report Count and Report ID
// (with Push and Pop), Collection and End Collection, and the bit lengths
// of Input and Output items. Long items are skipped. On error it returns
// nil and an error wrapping errReportDescriptor.
func parseReportDescriptor(d []byte) ([]hidCollection, error) {
	var (
		g      hidGlobals
		stack  []hidGlobals
		usages []uint32 // local Usage items: page<<16 | id
		depth  int
		out    []hidCollection
		cur    *hidCollection // the open top-level application collection
		// bits per report ID in the open top-level collection
		inBits, outBits map[uint32]int
	)
	fail := func(off int, format string, args ...any) ([]hidCollection, error) {
		return nil, fmt.Errorf("%w: offset %d: %s", errReportDescriptor, off, fmt.Sprintf(format, args...))
	}
	for i := 0; i < len(d); {
		prefix := d[i]
		if prefix == 0xFE { // long item: 0xFE, bDataSize, bLongItemTag, data
			if i+3 > len(d) || i+3+int(d[i+1]) > len(d) {
				return fail(i, "truncated long item")
			}
			i += 3 + int(d[i+1])
			continue
		}
		size := int(prefix & 0x03)
		if size == 3 {
			size = 4
		}
		if i+1+size > len(d) {
			return fail(i, "truncated item %#02x", prefix)
		}
		var data uint32
		for k := size - 1; k >= 0; k-- {
			data = data<<8 | uint32(d[i+1+k]) // little-endian
		}
		off := i
		i += 1 + size
		typ, tag := (prefix>>2)&0x03, prefix>>4
		switch typ {
		case 0: // main
			switch tag {
			case 0x8, 0x9: // Input, Output
				bits := uint64(g.reportSize) * uint64(g.reportCount)
				if cur != nil {
					m := inBits
					if tag == 0x9 {
						m = outBits
					}
					total := uint64(m[g.reportID]) + bits
					if total > maxReportBits {
						return fail(off, "report of %d bits", total)
					}
					m[g.reportID] = int(total)
				}
			case 0xA: // Collection
				if depth == maxCollectionDepth {
					return fail(off, "collections nested too deep")
				}
				if depth == 0 && data == 0x01 { // application
					var u uint32
					if len(usages) > 0 {
						u = usages[0]
					}
					out = append(out, hidCollection{UsagePage: uint16(u >> 16), Usage: uint16(u)})
					cur = &out[len(out)-1]
					inBits, outBits = map[uint32]int{}, map[uint32]int{}
				}
				depth++
			case 0xC: // End Collection
				if depth == 0 {
					return fail(off, "End Collection without a Collection")
				}
				depth--
				if depth == 0 && cur != nil {
					cur.InputBits, cur.OutputBits = maxBits(inBits), maxBits(outBits)
					cur.ReportIDs = hasReportID(inBits) || hasReportID(outBits)
					cur = nil
				}
			}
			usages = usages[:0] // local items apply to one main item
		case 1: // global
			switch tag {
			case 0x0: // Usage Page
				g.usagePage = uint16(data)
			case 0x7: // Report Size
				g.reportSize = data
			case 0x8: // Report ID
				if data == 0 || data > 0xFF {
					return fail(off, "report ID %d", data)
				}
				g.reportID = data
			case 0x9: // Report Count
				g.reportCount = data
			case 0xA: // Push
				if len(stack) == maxGlobalStack {
					return fail(off, "Push stack overflow")
				}
				stack = append(stack, g)
			case 0xB: // Pop
				if len(stack) == 0 {
					return fail(off, "Pop without Push")
				}
				g, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case 2: // local
			if tag == 0x0 && len(usages) < 256 { // Usage
				u := data
				if size < 4 { // a short usage takes the current page
					u = uint32(g.usagePage)<<16 | data
				}
				usages = append(usages, u)
			}
		default:
			return fail(off, "reserved item type in %#02x", prefix)
		}
	}
	if depth != 0 {
		return fail(len(d), "%d collections left open", depth)
	}
	return out, nil
}

func maxBits(m map[uint32]int) int {
	n := 0
	for _, b := range m {
		n = max(n, b)
	}
	return n
}

func hasReportID(m map[uint32]int) bool {
	for id := range m {
		if id != 0 {
			return true
		}
	}
	return false
}

// fidoCollection returns the FIDO application collection of a report
// descriptor (usage page 0xF1D0, usage 0x01; CTAP 2.1 §11.2.8.1), if any.
func fidoCollection(desc []byte) (hidCollection, bool, error) {
	cs, err := parseReportDescriptor(desc)
	if err != nil {
		return hidCollection{}, false, err
	}
	for _, c := range cs {
		if c.UsagePage == hidUsagePageFIDO && c.Usage == hidUsageCTAPHID {
			return c, true, nil
		}
	}
	return hidCollection{}, false, nil
}
