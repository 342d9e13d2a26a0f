package uhid

import (
	"encoding/binary"
	"fmt"
)

// The wire format of /dev/uhid, from include/uapi/linux/uhid.h. Every message
// in either direction is a struct uhid_event: a u32 type followed by a packed
// union, in the CPU's byte order. The kernel copies at most EventSize bytes of
// a write and zero-fills the rest; a read returns exactly one event.

// EventType is enum uhid_event_type.
type EventType uint32

// Event types (include/uapi/linux/uhid.h). The legacy numbers 0, 7 and 8
// (UHID_CREATE, UHID_OUTPUT_EV, UHID_INPUT) are not used.
const (
	EventDestroy        EventType = 1  // UHID_DESTROY: user space removes the device
	EventStart          EventType = 2  // UHID_START: a HID driver bound the device
	EventStop           EventType = 3  // UHID_STOP: the driver unbound it
	EventOpen           EventType = 4  // UHID_OPEN: some reader opened the device (e.g. hidraw)
	EventClose          EventType = 5  // UHID_CLOSE: the last reader closed it
	EventOutput         EventType = 6  // UHID_OUTPUT: the host sent an output report
	EventGetReport      EventType = 9  // UHID_GET_REPORT: the kernel asks for a report
	EventGetReportReply EventType = 10 // UHID_GET_REPORT_REPLY: the answer to it
	EventCreate2        EventType = 11 // UHID_CREATE2: user space creates the device
	EventInput2         EventType = 12 // UHID_INPUT2: user space sends an input report
	EventSetReport      EventType = 13 // UHID_SET_REPORT: the kernel sets a report
	EventSetReportReply EventType = 14 // UHID_SET_REPORT_REPLY: the answer to it
)

func (t EventType) String() string {
	switch t {
	case EventDestroy:
		return "DESTROY"
	case EventStart:
		return "START"
	case EventStop:
		return "STOP"
	case EventOpen:
		return "OPEN"
	case EventClose:
		return "CLOSE"
	case EventOutput:
		return "OUTPUT"
	case EventGetReport:
		return "GET_REPORT"
	case EventGetReportReply:
		return "GET_REPORT_REPLY"
	case EventCreate2:
		return "CREATE2"
	case EventInput2:
		return "INPUT2"
	case EventSetReport:
		return "SET_REPORT"
	case EventSetReportReply:
		return "SET_REPORT_REPLY"
	}
	return fmt.Sprintf("EventType(%d)", uint32(t))
}

// Sizes and offsets of the wire format.
const (
	// DataMax is UHID_DATA_MAX, the largest report, and HID_MAX_DESCRIPTOR_SIZE,
	// the largest report descriptor.
	DataMax = 4096
	// EventSize is sizeof(struct uhid_event): the u32 type and the largest
	// union member, struct uhid_create2_req (128+64+64+2+2+4*4+4096 bytes).
	EventSize = 4 + 128 + 64 + 64 + 2 + 2 + 4*4 + DataMax // 4376

	nameSize = 128
	physSize = 64
	uniqSize = 64

	// struct uhid_create2_req, offsets from the start of the event.
	offCreateName    = 4
	offCreatePhys    = offCreateName + nameSize // 132
	offCreateUniq    = offCreatePhys + physSize // 196
	offCreateRDSize  = offCreateUniq + uniqSize // 260
	offCreateBus     = offCreateRDSize + 2      // 262
	offCreateVendor  = offCreateBus + 2         // 264
	offCreateProduct = offCreateVendor + 4      // 268
	offCreateVersion = offCreateProduct + 4     // 272
	offCreateCountry = offCreateVersion + 4     // 276
	offCreateRDData  = offCreateCountry + 4     // 280

	// struct uhid_input2_req: u16 size, data[4096].
	offInputSize = 4
	offInputData = 6

	// struct uhid_output_req: data[4096], u16 size, u8 rtype.
	offOutputData  = 4
	offOutputSize  = offOutputData + DataMax // 4100
	offOutputRType = offOutputSize + 2       // 4102

	// struct uhid_get_report_req / uhid_set_report_req: u32 id, u8 rnum,
	// u8 rtype (set_report adds u16 size, data[4096]).
	offReportID    = 4
	offReportRNum  = 8
	offReportRType = 9

	// struct uhid_get_report_reply_req: u32 id, u16 err, u16 size, data;
	// struct uhid_set_report_reply_req: u32 id, u16 err.
	offReplyID  = 4
	offReplyErr = 8
)

// Report types (enum uhid_report_type), in OUTPUT, GET_REPORT and SET_REPORT.
const (
	reportFeature = 0 // UHID_FEATURE_REPORT
	reportOutput  = 1 // UHID_OUTPUT_REPORT
	reportInput   = 2 // UHID_INPUT_REPORT
)

// le is the byte order of struct uhid_event: native in the uapi, and
// little-endian on every Linux architecture this project builds for (amd64,
// arm64, 386, arm, riscv64).
var le = binary.LittleEndian

// createEvent encodes UHID_CREATE2 for cfg, whose defaults are already set.
func createEvent(cfg *Config, desc []byte) ([]byte, error) {
	if len(desc) == 0 || len(desc) > DataMax {
		return nil, fmt.Errorf("uhid: report descriptor is %d bytes, want 1 to %d", len(desc), DataMax)
	}
	for _, f := range []struct {
		what, s string
		max     int
	}{{"Name", cfg.Name, nameSize}, {"Phys", cfg.Phys, physSize}, {"Uniq", cfg.Uniq, uniqSize}} {
		// The kernel copies the whole array and terminates it itself, but a
		// string that does not fit with its NUL would be cut silently.
		if len(f.s) >= f.max {
			return nil, fmt.Errorf("uhid: %s is %d bytes, want at most %d", f.what, len(f.s), f.max-1)
		}
	}
	ev := make([]byte, EventSize)
	le.PutUint32(ev, uint32(EventCreate2))
	copy(ev[offCreateName:offCreateName+nameSize], cfg.Name)
	copy(ev[offCreatePhys:offCreatePhys+physSize], cfg.Phys)
	copy(ev[offCreateUniq:offCreateUniq+uniqSize], cfg.Uniq)
	le.PutUint16(ev[offCreateRDSize:], uint16(len(desc)))
	le.PutUint16(ev[offCreateBus:], cfg.Bus)
	le.PutUint32(ev[offCreateVendor:], cfg.VendorID)
	le.PutUint32(ev[offCreateProduct:], cfg.ProductID)
	le.PutUint32(ev[offCreateVersion:], cfg.Version)
	le.PutUint32(ev[offCreateCountry:], cfg.Country)
	copy(ev[offCreateRDData:], desc)
	return ev, nil
}

// inputEvent encodes UHID_INPUT2 carrying report.
func inputEvent(report []byte) ([]byte, error) {
	if len(report) > DataMax {
		return nil, fmt.Errorf("uhid: report is %d bytes, want at most %d", len(report), DataMax)
	}
	ev := make([]byte, EventSize)
	le.PutUint32(ev, uint32(EventInput2))
	le.PutUint16(ev[offInputSize:], uint16(len(report)))
	copy(ev[offInputData:], report)
	return ev, nil
}

// destroyEvent encodes UHID_DESTROY.
func destroyEvent() []byte {
	ev := make([]byte, EventSize)
	le.PutUint32(ev, uint32(EventDestroy))
	return ev
}

// replyEvent encodes UHID_GET_REPORT_REPLY or UHID_SET_REPORT_REPLY for the
// request id with the errno err and no data.
func replyEvent(t EventType, id uint32, err uint16) []byte {
	ev := make([]byte, EventSize)
	le.PutUint32(ev, uint32(t))
	le.PutUint32(ev[offReplyID:], id)
	le.PutUint16(ev[offReplyErr:], err)
	return ev
}

// event is a decoded event from the kernel. Only the fields of its type are
// set.
type event struct {
	typ   EventType
	data  []byte // OUTPUT: the report as the kernel sent it, report-ID byte included
	rtype uint8  // OUTPUT, GET_REPORT, SET_REPORT
	id    uint32 // GET_REPORT, SET_REPORT: the request to answer
	rnum  uint8  // GET_REPORT, SET_REPORT: the report number
}

// parseEvent decodes one event as read(2) returned it. Like the kernel with
// writes, it treats bytes missing from a short event as zero, so it never
// fails: a buffer too short to hold even the type is type 0, which nothing
// handles. An OUTPUT size beyond DataMax is clamped. data aliases b.
func parseEvent(b []byte) event {
	if len(b) < EventSize {
		full := make([]byte, EventSize)
		copy(full, b)
		b = full
	}
	ev := event{typ: EventType(le.Uint32(b))}
	switch ev.typ {
	case EventOutput:
		n := min(int(le.Uint16(b[offOutputSize:])), DataMax)
		ev.data = b[offOutputData : offOutputData+n]
		ev.rtype = b[offOutputRType]
	case EventGetReport, EventSetReport:
		ev.id = le.Uint32(b[offReportID:])
		ev.rnum = b[offReportRNum]
		ev.rtype = b[offReportRType]
	}
	return ev
}
