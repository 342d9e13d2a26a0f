package authenticator

import (
	"crypto/ecdsa"
	"sync"

	"github.com/virtkey/virtkey/ctap"
)

// keyCacheSize bounds the parsed-key cache: the credentials a key uses
// most are few, and a full cache forgets an arbitrary entry.
const keyCacheSize = 1024

// keyCache holds parsed ES256 private keys by their stored scalar, so an
// assertion does not parse the key and recompute its public point (nor
// have crypto/ecdsa convert it again) every time. It holds nothing the
// state does not: a key is found only through a credential that still
// exists or an ID that still opens.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
}

// parsed returns k with its parsed ES256 key filled in from the cache, or
// parsed and cached now; other algorithms are returned as they are.
func (c *keyCache) parsed(k credentialKey) credentialKey {
	if k.ec != nil || k.alg != ctap.AlgES256 {
		return k
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ec, ok := c.keys[string(k.priv)]; ok {
		k.ec = ec
		return k
	}
	ec, err := k.ecdsaKey()
	if err != nil {
		return k // sign reports the error
	}
	if c.keys == nil {
		c.keys = make(map[string]*ecdsa.PrivateKey)
	}
	if len(c.keys) >= keyCacheSize {
		for s := range c.keys {
			delete(c.keys, s)
			break
		}
	}
	c.keys[string(k.priv)] = ec
	k.ec = ec
	return k
}

// forget empties the cache (authenticatorReset).
func (c *keyCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.keys)
}
