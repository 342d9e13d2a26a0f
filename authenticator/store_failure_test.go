package authenticator

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

var errDiskFull = errors.New("no space left on device (injected)")

// failStep is one command that commits: prepare runs on a healthy store
// (tokens and the like), act is the command that must leave the key as it
// was when its commit fails, and want is act's status when it does not.
type failStep struct {
	name    string
	prepare func(k *testKey, p *platform) any
	act     func(k *testKey, p *platform, prep any) ctap.Status
	want    ctap.Status
}

func noPrep(*testKey, *platform) any { return nil }

// failSteps are every kind of command that commits, in an order where each
// can run after the ones before.
var failSteps = []failStep{
	{"makeCredential rk", noPrep, func(k *testKey, _ *platform, _ any) ctap.Status {
		_, s := k.makeCredential(mcReq("example.com", []byte{1}, true))
		return s
	}, ctap.StatusOK},
	{"makeCredential rk 2", noPrep, func(k *testKey, _ *platform, _ any) ctap.Status {
		_, s := k.makeCredential(mcReq("example.com", []byte{2}, true, ctap.AlgEdDSA))
		return s
	}, ctap.StatusOK},
	{"makeCredential replacing", noPrep, func(k *testKey, _ *platform, _ any) ctap.Status {
		_, s := k.makeCredential(mcReq("example.com", []byte{2}, true))
		return s
	}, ctap.StatusOK},
	{"makeCredential non-rk", noPrep, func(k *testKey, _ *platform, _ any) ctap.Status {
		_, s := k.makeCredential(mcReq("example.com", []byte{3}, false))
		return s
	}, ctap.StatusOK},
	{"getAssertion", noPrep, func(k *testKey, _ *platform, _ any) ctap.Status {
		_, s := k.getAssertion(gaReq("example.com"))
		return s
	}, ctap.StatusOK},
	{"getNextAssertion", noPrep, func(k *testKey, _ *platform, _ any) ctap.Status {
		_, s := k.getNextAssertion()
		return s
	}, ctap.StatusOK},
	{"U2F authenticate", func(k *testKey, _ *platform) any {
		return k.u2fRegister([32]byte{1}, [32]byte{2})
	}, func(k *testKey, _ *platform, prep any) ctap.Status {
		reg := prep.(u2fReg)
		_, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, ctap.U2FEnforceUserPresence, authData([32]byte{3}, [32]byte{2}, reg.kh), false))
		if sw != ctap.SWNoError {
			return ctap.StatusOther
		}
		return ctap.StatusOK
	}, ctap.StatusOK},
	{"setPIN", noPrep, func(_ *testKey, p *platform, _ any) ctap.Status { return p.setPIN("1234") }, ctap.StatusOK},
	{"wrong PIN", noPrep, func(_ *testKey, p *platform, _ any) ctap.Status {
		_, s := p.token("9999", nil, nil)
		return s
	}, ctap.StatusPINInvalid},
	{"right PIN", noPrep, func(_ *testKey, p *platform, _ any) ctap.Status {
		_, s := p.token("1234", nil, nil)
		return s
	}, ctap.StatusOK},
	{"changePIN", noPrep, func(_ *testKey, p *platform, _ any) ctap.Status { return p.changePIN("1234", "56789") }, ctap.StatusOK},
	{"updateUserInformation", func(_ *testKey, p *platform) any {
		return &cmPlatform{platform: p, cmd: ctap.CmdCredentialManagement, tok: p.mustToken("56789", ctap.PermissionCredentialManagement, "")}
	}, func(k *testKey, _ *platform, prep any) ctap.Status {
		id := k.a.creds.all()[0].ID
		_, s := prep.(*cmPlatform).call(ctap.CredMgmtUpdateUserInformation, &ctap.CredentialManagementParams{
			CredentialID: &ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: id},
			User:         &ctap.UserEntity{ID: []byte{1}, Name: "renamed"},
		})
		return s
	}, ctap.StatusOK},
	{"deleteCredential", func(_ *testKey, p *platform) any {
		return &cmPlatform{platform: p, cmd: ctap.CmdCredentialManagement, tok: p.mustToken("56789", ctap.PermissionCredentialManagement, "")}
	}, func(k *testKey, _ *platform, prep any) ctap.Status {
		_, s := prep.(*cmPlatform).call(ctap.CredMgmtDeleteCredential, credParams(k.a.creds.all()[0].ID))
		return s
	}, ctap.StatusOK},
	{"largeBlobs write", func(_ *testKey, p *platform) any {
		return p.mustToken("56789", ctap.PermissionLargeBlobWrite, "")
	}, func(k *testKey, p *platform, prep any) ctap.Status {
		w := &lbWriter{k: k, p: p.proto, tok: prep.([]byte)}
		return w.write(serializedArray([]byte{0x81, 0x01}), 100)
	}, ctap.StatusOK},
	{"toggleAlwaysUv", func(_ *testKey, p *platform) any {
		return p.mustToken("56789", ctap.PermissionAuthenticatorConfig, "")
	}, func(_ *testKey, p *platform, prep any) ctap.Status {
		return p.config(prep.([]byte), ctap.ConfigToggleAlwaysUv, nil)
	}, ctap.StatusOK},
	{"setMinPINLength", func(_ *testKey, p *platform) any {
		return p.mustToken("56789", ctap.PermissionAuthenticatorConfig, "")
	}, func(_ *testKey, p *platform, prep any) ctap.Status {
		return p.config(prep.([]byte), ctap.ConfigSetMinPINLength, minLen(6))
	}, ctap.StatusOK},
	{"reset", noPrep, func(k *testKey, _ *platform, _ any) ctap.Status { return k.do(ctap.CmdReset, nil, nil) }, ctap.StatusOK},
}

// failHarness is a key on one kind of store that can be made to fail.
type failHarness struct {
	name string
	// start makes the key; arm makes the next commit fail (one way of
	// failing among ways()), disarm restores the store; stored reads what
	// the store holds now.
	ways   []string
	start  func(t *testing.T) *testKey
	arm    func(k *testKey, way string)
	disarm func(k *testKey)
	stored func(t *testing.T, k *testKey) *State
}

var (
	fileStoresMu sync.Mutex
	fileStores   = map[*Authenticator]*FileStore{}
)

func fileStoreOf(k *testKey) *FileStore {
	fileStoresMu.Lock()
	defer fileStoresMu.Unlock()
	return fileStores[k.a]
}

var failHarnesses = []failHarness{
	{
		name: "MemoryStore",
		ways: []string{"commit"},
		start: func(t *testing.T) *testKey {
			return newTestKey(t)
		},
		arm:    func(k *testKey, _ string) { k.store.FailSaves(errDiskFull) },
		disarm: func(k *testKey) { k.store.FailSaves(nil) },
		stored: func(_ *testing.T, k *testKey) *State { return k.store.State() },
	},
	{
		name: "FileStore",
		// Every file operation of a commit; "header" and "headersync"
		// fail after the records are on disk.
		ways: []string{"write", "sync", "header", "headersync"},
		start: func(t *testing.T) *testKey {
			fs := openFileStore(t, filepath.Join(t.TempDir(), "state"))
			clock := newFakeClock()
			a, err := New(Config{Rand: seededRand(1), Now: clock.Now, Store: fs})
			if err != nil {
				t.Fatal(err)
			}
			k := &testKey{t: t, a: a, clock: clock}
			fileStoresMu.Lock()
			fileStores[a] = fs
			fileStoresMu.Unlock()
			return k
		},
		arm: func(k *testKey, way string) {
			fs := fileStoreOf(k)
			fs.failOp = func(op string) error {
				if op == way {
					return errDiskFull
				}
				return nil
			}
		},
		disarm: func(k *testKey) { fileStoreOf(k).failOp = nil },
		stored: func(t *testing.T, k *testKey) *State {
			b, err := os.ReadFile(fileStoreOf(k).Path())
			if err != nil {
				t.Fatal(err)
			}
			j, err := parseJournal(b)
			if err != nil {
				t.Fatalf("state file after a failed commit: %v", err)
			}
			return j.st
		},
	},
}

// TestCommitFailures makes the store fail at every write of every command
// that commits, in every way it can fail: the command answers an error,
// the stored state and the key's memory are what they were before it, and
// the same command succeeds once the store works again.
func TestCommitFailures(t *testing.T) {
	t.Parallel()
	for _, h := range failHarnesses {
		for _, way := range h.ways {
			for i, step := range failSteps {
				t.Run(h.name+"/"+way+"/"+step.name, func(t *testing.T) {
					t.Parallel()
					k := h.start(t)
					p := newPlatform(k, 2)
					for _, s := range failSteps[:i] {
						if got := s.act(k, p, s.prepare(k, p)); got != s.want {
							t.Fatalf("%s: %v, want %v", s.name, got, s.want)
						}
					}
					prep := step.prepare(k, p)
					before, beforeStored := memoryState(k.a), h.stored(t, k)
					h.arm(k, way)
					got := step.act(k, p, prep)
					h.disarm(k)
					if got == step.want {
						t.Fatalf("answered %v with a failing store", got)
					}
					if diff := cmp.Diff(before, memoryState(k.a)); diff != "" {
						t.Errorf("the key's memory changed (-before +after):\n%s", diff)
					}
					if diff := cmp.Diff(beforeStored, h.stored(t, k)); diff != "" {
						t.Errorf("the stored state changed (-before +after):\n%s", diff)
					}
					if got := step.act(k, p, step.prepare(k, p)); got != step.want {
						t.Errorf("again with a working store: %v, want %v", got, step.want)
					}
				})
			}
		}
	}
}
