package ctap

import "fmt"

// Status is a CTAP status code, the first byte of every CTAP2 response
// (CTAP 2.1 §8.2). Every Status other than StatusOK is also an error, so
// callers write errors.Is(err, ctap.StatusPINInvalid).
type Status byte

// Status codes, CTAP 2.1 §8.2.
const (
	StatusOK                     Status = 0x00
	StatusInvalidCommand         Status = 0x01
	StatusInvalidParameter       Status = 0x02
	StatusInvalidLength          Status = 0x03
	StatusInvalidSeq             Status = 0x04
	StatusTimeout                Status = 0x05
	StatusChannelBusy            Status = 0x06
	StatusLockRequired           Status = 0x0A
	StatusInvalidChannel         Status = 0x0B
	StatusCBORUnexpectedType     Status = 0x11
	StatusInvalidCBOR            Status = 0x12
	StatusMissingParameter       Status = 0x14
	StatusLimitExceeded          Status = 0x15
	StatusFPDatabaseFull         Status = 0x17
	StatusLargeBlobStorageFull   Status = 0x18
	StatusCredentialExcluded     Status = 0x19
	StatusProcessing             Status = 0x21
	StatusInvalidCredential      Status = 0x22
	StatusUserActionPending      Status = 0x23
	StatusOperationPending       Status = 0x24
	StatusNoOperations           Status = 0x25
	StatusUnsupportedAlgorithm   Status = 0x26
	StatusOperationDenied        Status = 0x27
	StatusKeyStoreFull           Status = 0x28
	StatusUnsupportedOption      Status = 0x2B
	StatusInvalidOption          Status = 0x2C
	StatusKeepaliveCancel        Status = 0x2D
	StatusNoCredentials          Status = 0x2E
	StatusUserActionTimeout      Status = 0x2F
	StatusNotAllowed             Status = 0x30
	StatusPINInvalid             Status = 0x31
	StatusPINBlocked             Status = 0x32
	StatusPINAuthInvalid         Status = 0x33
	StatusPINAuthBlocked         Status = 0x34
	StatusPINNotSet              Status = 0x35
	StatusPUATRequired           Status = 0x36
	StatusPINPolicyViolation     Status = 0x37
	StatusRequestTooLarge        Status = 0x39
	StatusActionTimeout          Status = 0x3A
	StatusUPRequired             Status = 0x3B
	StatusUVBlocked              Status = 0x3C
	StatusIntegrityFailure       Status = 0x3D
	StatusInvalidSubcommand      Status = 0x3E
	StatusUVInvalid              Status = 0x3F
	StatusUnauthorizedPermission Status = 0x40
	StatusOther                  Status = 0x7F
	StatusSpecLast               Status = 0xDF
	StatusExtensionFirst         Status = 0xE0
	StatusExtensionLast          Status = 0xEF
	StatusVendorFirst            Status = 0xF0
	StatusVendorLast             Status = 0xFF
)

var statusNames = map[Status]string{
	StatusOK:                     "CTAP2_OK",
	StatusInvalidCommand:         "CTAP1_ERR_INVALID_COMMAND",
	StatusInvalidParameter:       "CTAP1_ERR_INVALID_PARAMETER",
	StatusInvalidLength:          "CTAP1_ERR_INVALID_LENGTH",
	StatusInvalidSeq:             "CTAP1_ERR_INVALID_SEQ",
	StatusTimeout:                "CTAP1_ERR_TIMEOUT",
	StatusChannelBusy:            "CTAP1_ERR_CHANNEL_BUSY",
	StatusLockRequired:           "CTAP1_ERR_LOCK_REQUIRED",
	StatusInvalidChannel:         "CTAP1_ERR_INVALID_CHANNEL",
	StatusCBORUnexpectedType:     "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
	StatusInvalidCBOR:            "CTAP2_ERR_INVALID_CBOR",
	StatusMissingParameter:       "CTAP2_ERR_MISSING_PARAMETER",
	StatusLimitExceeded:          "CTAP2_ERR_LIMIT_EXCEEDED",
	StatusFPDatabaseFull:         "CTAP2_ERR_FP_DATABASE_FULL",
	StatusLargeBlobStorageFull:   "CTAP2_ERR_LARGE_BLOB_STORAGE_FULL",
	StatusCredentialExcluded:     "CTAP2_ERR_CREDENTIAL_EXCLUDED",
	StatusProcessing:             "CTAP2_ERR_PROCESSING",
	StatusInvalidCredential:      "CTAP2_ERR_INVALID_CREDENTIAL",
	StatusUserActionPending:      "CTAP2_ERR_USER_ACTION_PENDING",
	StatusOperationPending:       "CTAP2_ERR_OPERATION_PENDING",
	StatusNoOperations:           "CTAP2_ERR_NO_OPERATIONS",
	StatusUnsupportedAlgorithm:   "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
	StatusOperationDenied:        "CTAP2_ERR_OPERATION_DENIED",
	StatusKeyStoreFull:           "CTAP2_ERR_KEY_STORE_FULL",
	StatusUnsupportedOption:      "CTAP2_ERR_UNSUPPORTED_OPTION",
	StatusInvalidOption:          "CTAP2_ERR_INVALID_OPTION",
	StatusKeepaliveCancel:        "CTAP2_ERR_KEEPALIVE_CANCEL",
	StatusNoCredentials:          "CTAP2_ERR_NO_CREDENTIALS",
	StatusUserActionTimeout:      "CTAP2_ERR_USER_ACTION_TIMEOUT",
	StatusNotAllowed:             "CTAP2_ERR_NOT_ALLOWED",
	StatusPINInvalid:             "CTAP2_ERR_PIN_INVALID",
	StatusPINBlocked:             "CTAP2_ERR_PIN_BLOCKED",
	StatusPINAuthInvalid:         "CTAP2_ERR_PIN_AUTH_INVALID",
	StatusPINAuthBlocked:         "CTAP2_ERR_PIN_AUTH_BLOCKED",
	StatusPINNotSet:              "CTAP2_ERR_PIN_NOT_SET",
	StatusPUATRequired:           "CTAP2_ERR_PUAT_REQUIRED",
	StatusPINPolicyViolation:     "CTAP2_ERR_PIN_POLICY_VIOLATION",
	StatusRequestTooLarge:        "CTAP2_ERR_REQUEST_TOO_LARGE",
	StatusActionTimeout:          "CTAP2_ERR_ACTION_TIMEOUT",
	StatusUPRequired:             "CTAP2_ERR_UP_REQUIRED",
	StatusUVBlocked:              "CTAP2_ERR_UV_BLOCKED",
	StatusIntegrityFailure:       "CTAP2_ERR_INTEGRITY_FAILURE",
	StatusInvalidSubcommand:      "CTAP2_ERR_INVALID_SUBCOMMAND",
	StatusUVInvalid:              "CTAP2_ERR_UV_INVALID",
	StatusUnauthorizedPermission: "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
	StatusOther:                  "CTAP1_ERR_OTHER",
	StatusSpecLast:               "CTAP2_ERR_SPEC_LAST",
}

// String returns the spec's name for the status, such as CTAP2_ERR_PIN_INVALID.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	switch {
	case s >= StatusExtensionFirst && s <= StatusExtensionLast:
		return fmt.Sprintf("CTAP2_ERR_EXTENSION(0x%02X)", byte(s))
	case s >= StatusVendorFirst:
		return fmt.Sprintf("CTAP2_ERR_VENDOR(0x%02X)", byte(s))
	}
	return fmt.Sprintf("Status(0x%02X)", byte(s))
}

// Error implements error; it gives the name and the code.
func (s Status) Error() string {
	return fmt.Sprintf("ctap: %s (0x%02X)", s.String(), byte(s))
}

// StatusOf maps an error to the status that goes on the wire: a Status found
// in err's chain, or StatusOther. A nil error is StatusOK.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var s Status
	if asStatus(err, &s) {
		return s
	}
	return StatusOther
}
