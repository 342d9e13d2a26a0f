package authenticator

import "sync"

// memo keeps values computed from a string key, for a process that asks
// for the same ones again, and is safe for concurrent use. It holds at
// most max values: a full memo is emptied rather than tracked for
// recency, and what it forgot is computed again on demand. A failed
// computation is not kept. Two callers missing one key at once both
// compute it, outside the lock, and the later result stays.
type memo[V any] struct {
	mu  sync.Mutex
	max int
	m   map[string]V
}

// get returns the value kept for key, or compute's, which it keeps.
func (c *memo[V]) get(key string, compute func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]V)
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = v
	return v, nil
}
