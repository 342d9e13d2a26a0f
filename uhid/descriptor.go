package uhid

// FIDOReportDescriptor is the HID report descriptor of a FIDO authenticator
// (FIDO U2F HID Protocol §2 "HID report descriptor and device discovery",
// kept by CTAP 2.1 §11.2.8.1): usage page 0xF1D0 (FIDO Alliance), usage 0x01
// (CTAPHID authenticator device), one 64-byte input report and one 64-byte
// output report, without report IDs. Hosts (libfido2, browsers) find FIDO
// devices by this usage page and usage and size their packets by the report
// counts.
var FIDOReportDescriptor = []byte{
	0x06, 0xD0, 0xF1, // Usage Page (FIDO Alliance, 0xF1D0)
	0x09, 0x01, //       Usage (CTAPHID authenticator device, 0x01)
	0xA1, 0x01, //       Collection (Application)
	0x09, 0x20, //         Usage (Input Report Data, 0x20)
	0x15, 0x00, //         Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //         Report Size (8 bits)
	0x95, 0x40, //         Report Count (64)
	0x81, 0x02, //         Input (Data, Variable, Absolute)
	0x09, 0x21, //         Usage (Output Report Data, 0x21)
	0x15, 0x00, //         Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //         Report Size (8 bits)
	0x95, 0x40, //         Report Count (64)
	0x91, 0x02, //         Output (Data, Variable, Absolute)
	0xC0, //             End Collection
}
