package webauthn

import (
	"errors"
	"fmt"
)

// Error is a DOMException (or a TypeError) as navigator.credentials would
// reject its promise with: Name is what a web developer matches on
// ("NotAllowedError", "InvalidStateError", ...), Message says why, and Err
// is the cause, usually the ctap.Status the authenticator answered, so
// errors.Is(err, ctap.StatusCredentialExcluded) works as well as
// errors.Is(err, webauthn.ErrInvalidState).
type Error struct {
	Name    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	s := e.Name
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same Name, so the
// sentinels below match every error of their name.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Name == e.Name && t.Message == "" && t.Err == nil
}

// The DOMException names of WebAuthn Level 3 §5.1.3 and §5.1.4 (and
// WebIDL's TypeError), as sentinels for errors.Is.
var (
	// ErrNotAllowed: the user or the authenticator refused, the timeout
	// expired, no credential matched, or the origin is opaque.
	ErrNotAllowed = &Error{Name: "NotAllowedError"}
	// ErrInvalidState: a credential in excludeCredentials is on the
	// authenticator (reported after the user's touch, §5.1.3 step 20).
	ErrInvalidState = &Error{Name: "InvalidStateError"}
	// ErrSecurity: the RP ID is not valid for the origin, or the origin
	// is not potentially trustworthy.
	ErrSecurity = &Error{Name: "SecurityError"}
	// ErrNotSupported: no requested algorithm is supported, or an
	// extension was asked for in a way the spec forbids.
	ErrNotSupported = &Error{Name: "NotSupportedError"}
	// ErrConstraint: the authenticator cannot meet a requirement
	// (a discoverable credential, user verification).
	ErrConstraint = &Error{Name: "ConstraintError"}
	// ErrAbort: the caller cancelled the ceremony (its context was
	// cancelled, as an AbortSignal would).
	ErrAbort = &Error{Name: "AbortError"}
	// ErrTimeout: the caller's own deadline passed (its context's
	// deadline, as AbortSignal.timeout() would reject with). The
	// options' timeout member expiring is ErrNotAllowed, as §5.1.3 says.
	ErrTimeout = &Error{Name: "TimeoutError"}
	// ErrSyntax: a value that parses but is not acceptable, such as an
	// evalByCredential key that names no allowed credential (§10.1.4).
	ErrSyntax = &Error{Name: "SyntaxError"}
	// ErrType: options that do not convert to the WebIDL dictionary (a
	// required member missing, a wrong type, a user.id of the wrong
	// length).
	ErrType = &Error{Name: "TypeError"}
	// ErrUnknown: the authenticator answered something unusable.
	ErrUnknown = &Error{Name: "UnknownError"}
)

func newError(kind *Error, msg string, cause error) *Error {
	return &Error{Name: kind.Name, Message: msg, Err: cause}
}

// Name returns the DOMException name of err, or "" when err is not an
// *Error.
func Name(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	return ""
}

func errorf(kind *Error, cause error, format string, args ...any) *Error {
	return newError(kind, fmt.Sprintf(format, args...), cause)
}
