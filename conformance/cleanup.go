package conformance

import (
	"context"
	"errors"
	"slices"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// RPSuffix ends the RP ID of every credential the suite makes: cases name
// their RPs "<case ID>.virtkey.test" or a subdomain of it (T.RPID), so a
// person can tell the suite's credentials from their own on a shared key,
// and remove what a run could not (fido2-token -D, or any credential
// manager, filtering on this suffix).
const RPSuffix = ".virtkey.test"

// resident is a discoverable credential a case made.
type resident struct {
	rpID string
	id   []byte
}

// keepResident notes a discoverable credential the case made, to remove
// at its end (removeResidents).
func (t *T) keepResident(rpID string, id []byte) {
	t.mu.Lock()
	t.residents = append(t.residents, resident{rpID: rpID, id: id})
	t.mu.Unlock()
}

// UsePIN tells the case's cleanup the key's PIN: a case that sets a PIN
// on the key calls it, so that the discoverable credentials it made can
// be removed with credentialManagement before the key is reset.
func (t *T) UsePIN(pin string) {
	t.mu.Lock()
	t.pin = pin
	t.mu.Unlock()
}

// removeResidents deletes the discoverable credentials the case made with
// authenticatorCredentialManagement deleteCredential (CTAP 2.1 §6.8.5),
// so that a shared key holds after a run what it held before and a second
// run sees the same key. It needs a pinUvAuthToken with the cm
// permission: from the PIN the case or the run knows (UsePIN,
// Options.PIN), or from built-in user verification. When the key cannot
// (no credentialManagement, a PIN the run does not know, no PIN and no
// built-in UV) the credentials stay and an observation says so. A
// destructive case resets the key and a target with CapFresh discards it,
// so neither removes anything.
func (t *T) removeResidents(ctx context.Context) {
	t.mu.Lock()
	rs, pin := t.residents, t.pin
	t.residents = nil
	t.mu.Unlock()
	// A destructive case resets the key at its end; a fresh target
	// discards it.
	if len(rs) == 0 || t.c.Destructive || slices.Contains(t.target.Capabilities(), CapFresh) {
		return
	}
	left := func(why string, args ...any) {
		t.Observef("left %d discoverable credentials of this case on the key (RP IDs ending in %s): "+why,
			append([]any{len(rs), RPSuffix}, args...)...)
	}
	dev, err := t.target.Open(ctx)
	if err != nil {
		left("reopening the key: %v", err)
		return
	}
	defer dev.Close()
	c, err := client.New(ctx, t.Tap(dev), client.WithStrictCBOR(false))
	if err != nil {
		left("getInfo: %v", err)
		return
	}
	info := c.Info()
	if !client.IsCredentialManagementSupported(info) {
		left("the key has no credentialManagement")
		return
	}
	version := listedProtocol(info)
	proto, _ := client.PinProtocolByVersion(version)
	cp, err := client.NewClientPin(c, proto)
	if err != nil {
		left("clientPin: %v", err)
		return
	}
	var tok []byte
	clientPin, _ := info.Option(ctap.OptionClientPIN)
	uv, _ := info.Option(ctap.OptionUV)
	switch {
	case pin != "" && clientPin:
		tok, err = cp.GetPinToken(ctx, pin, ctap.PermissionCredentialManagement, "")
	case uv && client.IsTokenSupported(info):
		tok, err = cp.GetUVToken(ctx, ctap.PermissionCredentialManagement, "")
	case clientPin:
		left("the key has a PIN this run does not know (ctaptest --pin)")
		return
	default:
		left("credentialManagement needs a PIN or built-in user verification, and the key has neither")
		return
	}
	if err != nil {
		left("getting a pinUvAuthToken: %v", err)
		return
	}
	cm, err := client.NewCredentialManagement(c, proto, tok)
	if err != nil {
		left("credentialManagement: %v", err)
		return
	}
	removed := 0
	for _, r := range rs {
		err := cm.DeleteCred(ctx, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: r.id})
		switch {
		case err == nil:
			removed++
		case errors.Is(err, ctap.StatusNoCredentials):
			// Replaced by a later credential of the same user, or
			// removed by the case itself.
			removed++
		default:
			t.Observef("could not remove discoverable credential %x of %s: %v", r.id, r.rpID, err)
		}
	}
	t.Logf("removed %d of %d discoverable credentials the case made", removed, len(rs))
}
