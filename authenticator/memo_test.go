package authenticator

import (
	"errors"
	"strconv"
	"testing"
)

func TestMemo(t *testing.T) {
	c := memo[int]{max: 2}
	calls := 0
	get := func(k string) int {
		t.Helper()
		v, err := c.get(k, func() (int, error) { calls++; return strconv.Atoi(k) })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := get("1")
	if again := get("1"); first != 1 || again != 1 || calls != 1 {
		t.Fatalf("a kept value computed %d times", calls)
	}
	get("2")
	get("3") // the memo was full: emptied, then 3 kept
	if len(c.m) != 1 {
		t.Fatalf("%d values kept after filling a memo of 2, want 1", len(c.m))
	}
	if get("1"); calls != 4 {
		t.Fatalf("%d computations, want 4: a forgotten value is computed again", calls)
	}
	bad := errors.New("bad")
	if _, err := c.get("x", func() (int, error) { return 0, bad }); err != bad {
		t.Fatalf("error %v, want %v", err, bad)
	}
	if _, ok := c.m["x"]; ok {
		t.Fatal("a failed computation was kept")
	}
}
