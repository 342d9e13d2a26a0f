package ctap

import (
	"crypto/sha256"
	"reflect"
)

func sha256sum(b []byte) [32]byte { return sha256.Sum256(b) }

func newLike(v any) any { return reflect.New(reflect.TypeOf(v).Elem()).Interface() }
