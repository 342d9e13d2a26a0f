package ctap

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// AuthDataFlags is the flags byte of authenticator data (WebAuthn §6.1).
type AuthDataFlags byte

// Authenticator data flags (WebAuthn §6.1).
const (
	FlagUP AuthDataFlags = 0x01 // user present
	FlagUV AuthDataFlags = 0x04 // user verified
	FlagBE AuthDataFlags = 0x08 // backup eligible
	FlagBS AuthDataFlags = 0x10 // backed up
	FlagAT AuthDataFlags = 0x40 // attested credential data included
	FlagED AuthDataFlags = 0x80 // extension data included
)

// Has reports whether every flag in f2 is set.
func (f AuthDataFlags) Has(f2 AuthDataFlags) bool { return f&f2 == f2 }

func (f AuthDataFlags) String() string {
	names := []struct {
		f AuthDataFlags
		n string
	}{{FlagUP, "UP"}, {FlagUV, "UV"}, {FlagBE, "BE"}, {FlagBS, "BS"}, {FlagAT, "AT"}, {FlagED, "ED"}}
	s := ""
	for _, n := range names {
		if f.Has(n.f) {
			if s != "" {
				s += "|"
			}
			s += n.n
		}
	}
	if rest := f &^ (FlagUP | FlagUV | FlagBE | FlagBS | FlagAT | FlagED); rest != 0 {
		if s != "" {
			s += "|"
		}
		s += fmt.Sprintf("0x%02X", byte(rest))
	}
	return s
}

// AttestedCredentialData is the credential part of authenticator data
// (WebAuthn §6.5.2).
type AttestedCredentialData struct {
	AAGUID       [16]byte
	CredentialID []byte
	PublicKey    COSEKey
	// PublicKeyRaw is the COSE key exactly as encoded in the data.
	PublicKeyRaw []byte
}

// AuthData is authenticator data (WebAuthn §6.1).
type AuthData struct {
	RPIDHash           [32]byte
	Flags              AuthDataFlags
	SignCount          uint32
	AttestedCredential *AttestedCredentialData
	// Extensions is the CBOR map of extension outputs, nil when absent.
	Extensions RawMessage
}

// ErrAuthData is returned for authenticator data that does not parse.
var ErrAuthData = errors.New("ctap: malformed authenticator data")

// Marshal encodes the authenticator data. The AT and ED flags are set from
// the presence of AttestedCredential and Extensions.
func (a *AuthData) Marshal() ([]byte, error) {
	flags := a.Flags &^ (FlagAT | FlagED)
	if a.AttestedCredential != nil {
		flags |= FlagAT
	}
	if a.Extensions != nil {
		flags |= FlagED
	}
	b := make([]byte, 0, 37+128)
	b = append(b, a.RPIDHash[:]...)
	b = append(b, byte(flags))
	b = binary.BigEndian.AppendUint32(b, a.SignCount)
	if ac := a.AttestedCredential; ac != nil {
		if len(ac.CredentialID) > 1023 {
			return nil, fmt.Errorf("%w: credential ID of %d bytes", ErrAuthData, len(ac.CredentialID))
		}
		b = append(b, ac.AAGUID[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ac.CredentialID)))
		b = append(b, ac.CredentialID...)
		key := ac.PublicKeyRaw
		if key == nil {
			var err error
			if key, err = ac.PublicKey.MarshalCBOR(); err != nil {
				return nil, err
			}
		}
		b = append(b, key...)
	}
	if a.Extensions != nil {
		if !Valid(a.Extensions) {
			return nil, fmt.Errorf("%w: extensions are not one CBOR item", ErrAuthData)
		}
		b = append(b, a.Extensions...)
	}
	return b, nil
}

// ParseAuthData decodes authenticator data. The AT and ED flags say which
// optional parts follow; anything left over is an error.
func ParseAuthData(b []byte) (*AuthData, error) {
	if len(b) < 37 {
		return nil, fmt.Errorf("%w: %d bytes", ErrAuthData, len(b))
	}
	a := &AuthData{Flags: AuthDataFlags(b[32]), SignCount: binary.BigEndian.Uint32(b[33:37])}
	copy(a.RPIDHash[:], b[:32])
	rest := b[37:]
	if a.Flags.Has(FlagAT) {
		if len(rest) < 18 {
			return nil, fmt.Errorf("%w: short attested credential data", ErrAuthData)
		}
		ac := &AttestedCredentialData{}
		copy(ac.AAGUID[:], rest[:16])
		n := int(binary.BigEndian.Uint16(rest[16:18]))
		rest = rest[18:]
		if n > 1023 || len(rest) < n {
			return nil, fmt.Errorf("%w: credential ID length %d", ErrAuthData, n)
		}
		ac.CredentialID = append([]byte(nil), rest[:n]...)
		rest = rest[n:]
		after, err := UnmarshalFirst(rest, &ac.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%w: credential public key: %v", ErrAuthData, err)
		}
		ac.PublicKeyRaw = append([]byte(nil), rest[:len(rest)-len(after)]...)
		rest = after
		a.AttestedCredential = ac
	}
	if a.Flags.Has(FlagED) {
		var m map[string]RawMessage
		after, err := UnmarshalFirst(rest, &m)
		if err != nil {
			return nil, fmt.Errorf("%w: extensions: %v", ErrAuthData, err)
		}
		a.Extensions = append(RawMessage(nil), rest[:len(rest)-len(after)]...)
		rest = after
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrAuthData, len(rest))
	}
	return a, nil
}

// ExtensionOutputs decodes the extension outputs map; nil when absent.
func (a *AuthData) ExtensionOutputs() (map[string]RawMessage, error) {
	if a.Extensions == nil {
		return nil, nil
	}
	var m map[string]RawMessage
	if err := Unmarshal(a.Extensions, &m); err != nil {
		return nil, err
	}
	return m, nil
}
