package authenticator

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/virtkey/virtkey/ctap"
	"pgregory.net/rapid"
)

// modelCred is a discoverable credential in the reference model.
type modelCred struct {
	rp   string
	user byte
	id   []byte
}

// keyModel is the reference model: the discoverable credentials in
// creation order, the non-discoverable IDs that are alive, and every ID
// the key ever returned (to try dead ones).
type keyModel struct {
	creds    []modelCred       // oldest first
	alive    map[string]string // non-discoverable ID -> rp
	allIDs   [][]byte
	sinceOn  time.Duration
	maxCreds int
	count    uint32 // the last signature counter seen
}

func (m *keyModel) discoverable(rp string) []modelCred {
	var out []modelCred
	for i := len(m.creds) - 1; i >= 0; i-- { // newest first
		if m.creds[i].rp == rp {
			out = append(out, m.creds[i])
		}
	}
	return out
}

func (m *keyModel) aliveFor(rp string, id []byte) bool {
	if r, ok := m.alive[string(id)]; ok {
		return r == rp
	}
	return slices.ContainsFunc(m.creds, func(c modelCred) bool { return c.rp == rp && bytes.Equal(c.id, id) })
}

// TestStateMachine drives makeCredential, getAssertion (+getNextAssertion),
// reset, power cycles and the clock in random order against keyModel.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		const maxCreds = 4
		k := newTestKey(rt, withMaxCredentials(maxCreds))
		m := &keyModel{alive: map[string]string{}, maxCreds: maxCreds}
		rps := []string{"a.example", "b.example", "c.example"}

		checkCount := func(rt *rapid.T, authData []byte) {
			ad, err := ctap.ParseAuthData(authData)
			if err != nil {
				rt.Fatalf("authData: %v", err)
			}
			if ad.SignCount <= m.count {
				rt.Fatalf("signCount %d after %d", ad.SignCount, m.count)
			}
			m.count = ad.SignCount
		}

		rt.Repeat(map[string]func(*rapid.T){
			"makeCredential": func(rt *rapid.T) {
				rp := rapid.SampledFrom(rps).Draw(rt, "rp")
				user := rapid.ByteRange(0, 3).Draw(rt, "user")
				rk := rapid.Bool().Draw(rt, "rk")
				alg := rapid.SampledFrom([]int64{ctap.AlgES256, ctap.AlgEdDSA}).Draw(rt, "alg")
				resp, s := k.makeCredential(mcReq(rp, []byte{user}, rk, alg))
				replace := slices.IndexFunc(m.creds, func(c modelCred) bool { return c.rp == rp && c.user == user })
				if rk && replace < 0 && len(m.creds) >= m.maxCreds {
					if s != ctap.StatusKeyStoreFull {
						rt.Fatalf("full store: %v", s)
					}
					return
				}
				if s != ctap.StatusOK {
					rt.Fatalf("makeCredential: %v", s)
				}
				checkCount(rt, resp.AuthData)
				ad, _ := ctap.ParseAuthData(resp.AuthData)
				id := ad.AttestedCredential.CredentialID
				m.allIDs = append(m.allIDs, id)
				if !rk {
					m.alive[string(id)] = rp
					return
				}
				if replace >= 0 {
					m.creds = slices.Delete(m.creds, replace, replace+1)
				}
				m.creds = append(m.creds, modelCred{rp, user, id})
			},
			"getAssertionDiscoverable": func(rt *rapid.T) {
				rp := rapid.SampledFrom(rps).Draw(rt, "rp")
				want := m.discoverable(rp)
				resp, s := k.getAssertion(gaReq(rp))
				if len(want) == 0 {
					if s != ctap.StatusNoCredentials {
						rt.Fatalf("no credentials: %v", s)
					}
					return
				}
				if s != ctap.StatusOK {
					rt.Fatalf("getAssertion: %v", s)
				}
				var n uint64
				if resp.NumberOfCredentials != nil {
					n = *resp.NumberOfCredentials
				}
				if len(want) > 1 && n != uint64(len(want)) || len(want) == 1 && resp.NumberOfCredentials != nil {
					rt.Fatalf("numberOfCredentials %v, want %d", resp.NumberOfCredentials, len(want))
				}
				for i, c := range want {
					if i > 0 {
						if rapid.Bool().Draw(rt, "stop early") {
							return
						}
						resp, s = k.getNextAssertion()
						if s != ctap.StatusOK {
							rt.Fatalf("getNextAssertion %d: %v", i, s)
						}
					}
					checkCount(rt, resp.AuthData)
					if !bytes.Equal(resp.Credential.ID, c.id) || !bytes.Equal(resp.User.ID, []byte{c.user}) {
						rt.Fatalf("assertion %d: credential %x user %x, want %x user %d", i, resp.Credential.ID, resp.User.ID, c.id, c.user)
					}
				}
				if _, s := k.getNextAssertion(); s != ctap.StatusNotAllowed {
					rt.Fatalf("getNextAssertion past the end: %v", s)
				}
			},
			"getAssertionAllowList": func(rt *rapid.T) {
				if len(m.allIDs) == 0 {
					rt.Skip("no IDs yet")
				}
				rp := rapid.SampledFrom(rps).Draw(rt, "rp")
				id := rapid.SampledFrom(m.allIDs).Draw(rt, "id")
				resp, s := k.getAssertion(gaReq(rp, id))
				if want := m.aliveFor(rp, id); want != (s == ctap.StatusOK) {
					rt.Fatalf("allowList %x for %s: %v, alive %v", id, rp, s, want)
				}
				if s == ctap.StatusOK {
					checkCount(rt, resp.AuthData)
				} else if s != ctap.StatusNoCredentials {
					rt.Fatalf("allowList: %v", s)
				}
			},
			"reset": func(rt *rapid.T) {
				s := k.do(ctap.CmdReset, nil, nil)
				if m.sinceOn > DefaultResetWindow {
					if s != ctap.StatusNotAllowed {
						rt.Fatalf("late reset: %v", s)
					}
					return
				}
				if s != ctap.StatusOK {
					rt.Fatalf("reset: %v", s)
				}
				m.creds = nil
				clear(m.alive)
			},
			"powerCycle": func(rt *rapid.T) {
				k.a.PowerCycle()
				m.sinceOn = 0
			},
			"wait": func(rt *rapid.T) {
				d := time.Duration(rapid.IntRange(0, 8).Draw(rt, "seconds")) * time.Second
				k.clock.Advance(d)
				m.sinceOn += d
			},
			"": func(rt *rapid.T) {
				// Every acknowledged discoverable credential is in the store.
				st := k.store.State()
				var got, want []string
				for _, c := range st.Credentials {
					got = append(got, fmt.Sprintf("%s/%x/%x", c.RPID, c.UserID, c.ID))
				}
				for _, c := range m.creds {
					want = append(want, fmt.Sprintf("%s/%x/%x", c.rp, []byte{c.user}, c.id))
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					rt.Fatalf("stored credentials %v, model %v", got, want)
				}
				if st.SignCount != m.count {
					rt.Fatalf("stored signCount %d, model %d", st.SignCount, m.count)
				}
			},
		})
	})
}
