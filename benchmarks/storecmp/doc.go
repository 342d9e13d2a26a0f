// Package storecmp compares the key's state store, the checksummed journal
// of authenticator.FileStore, with go.etcd.io/bbolt on the work a key
// gives its store (docs/store.md, "Choice"). It is a module of its own so
// that the key's module does not depend on bbolt:
//
//	cd benchmarks/storecmp && go test -run '^$' -bench . -benchtime 200x
package storecmp
