package client

import (
	"github.com/virtkey/virtkey/ctap"
)

// decodeAssertion decodes a getAssertion or getNextAssertion response body
// (CTAP 2.1 §6.2.2) that fastCanonical accepted, without the generic
// decoder: a map of the members 0x01 to 0x07 whose values have the types
// ctap.GetAssertionResponse gives them, the credential (0x01) a map of
// "type", "id" and "transports", the user (0x04) one of "id", "name",
// "displayName" and "icon". It answers false for anything else (another
// member, a null, a value of another type, a key of another case, whatever
// the decoder might take differently), and the caller decodes the body
// with ctap.Unmarshal; with true, m is what ctap.Unmarshal would give,
// except that its byte strings are body's, each capped at its own length so
// that an append to one cannot overwrite the next: the caller hands body
// over. A credential (0x01) is decoded into cred, the caller's storage.
func decodeAssertion(body []byte, cred *ctap.CredentialDescriptor) (m ctap.GetAssertionResponse, ok bool) {
	c := canonScanner{data: body}
	major, n, ok := c.head()
	if !ok || major != 5 {
		return ctap.GetAssertionResponse{}, false
	}
	for range n {
		major, k, ok := c.head()
		if !ok || major != 0 {
			return ctap.GetAssertionResponse{}, false
		}
		switch k {
		case 0x01:
			*cred = ctap.CredentialDescriptor{}
			m.Credential = cred
			ok = c.credential(cred)
		case asnAuthData:
			m.AuthData, ok = c.str(2)
		case asnSignature:
			m.Signature, ok = c.str(2)
		case 0x04:
			m.User = new(ctap.UserEntity)
			ok = c.user(m.User)
		case 0x05:
			var v uint64
			major, v, ok = c.head()
			ok = ok && major == 0
			m.NumberOfCredentials = &v
		case 0x06: // false or true
			var v uint64
			major, v, ok = c.head()
			ok = ok && major == 7 && (v == 20 || v == 21)
			b := v == 21
			m.UserSelected = &b
		case 0x07:
			m.LargeBlobKey, ok = c.str(2)
		default:
			ok = false
		}
		if !ok {
			return ctap.GetAssertionResponse{}, false
		}
	}
	if c.off != len(c.data) {
		return ctap.GetAssertionResponse{}, false
	}
	return m, true
}

// str reads a byte string (major 2) or text string (major 3) and returns
// its bytes, capped so that an append cannot reach the next item. An empty
// string is an empty, non-nil slice, as the decoder gives.
func (c *canonScanner) str(want byte) ([]byte, bool) {
	major, n, ok := c.head()
	if !ok || major != want || uint64(len(c.data)-c.off) < n {
		return nil, false
	}
	end := c.off + int(n)
	s := c.data[c.off:end:end]
	c.off = end
	return s, true
}

// text reads a text string. The usual credential type costs no
// allocation.
func (c *canonScanner) text() (string, bool) {
	b, ok := c.str(3)
	if !ok {
		return "", false
	}
	if string(b) == ctap.CredentialTypePublicKey {
		return ctap.CredentialTypePublicKey, true
	}
	return string(b), true
}

// mapLen reads the head of a map.
func (c *canonScanner) mapLen() (uint64, bool) {
	major, n, ok := c.head()
	return n, ok && major == 5
}

// credential reads a PublicKeyCredentialDescriptor (CTAP 2.1 §6.2.2,
// WebAuthn §5.8.3).
func (c *canonScanner) credential(d *ctap.CredentialDescriptor) bool {
	n, ok := c.mapLen()
	if !ok {
		return false
	}
	for range n {
		key, ok := c.str(3)
		if !ok {
			return false
		}
		switch string(key) {
		case "type":
			d.Type, ok = c.text()
		case "id":
			d.ID, ok = c.str(2)
		case "transports":
			ok = c.texts(&d.Transports)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

// texts reads an array of text strings.
func (c *canonScanner) texts(out *[]string) bool {
	major, n, ok := c.head()
	if !ok || major != 4 || n > uint64(len(c.data)-c.off) { // one byte at least each
		return false
	}
	s := make([]string, n)
	for i := range s {
		if s[i], ok = c.text(); !ok {
			return false
		}
	}
	*out = s
	return true
}

// user reads a PublicKeyCredentialUserEntity (CTAP 2.1 §6.2.2,
// WebAuthn §5.4.3).
func (c *canonScanner) user(u *ctap.UserEntity) bool {
	n, ok := c.mapLen()
	if !ok {
		return false
	}
	for range n {
		key, ok := c.str(3)
		if !ok {
			return false
		}
		switch string(key) {
		case "id":
			u.ID, ok = c.str(2)
		case "name":
			u.Name, ok = c.text()
		case "displayName":
			u.DisplayName, ok = c.text()
		case "icon":
			u.Icon, ok = c.text()
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}
