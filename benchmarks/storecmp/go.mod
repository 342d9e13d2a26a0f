module github.com/virtkey/virtkey/benchmarks/storecmp

go 1.26.0

require (
	github.com/virtkey/virtkey v0.0.0
	go.etcd.io/bbolt v1.4.3
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sys v0.29.0 // indirect
)

replace github.com/virtkey/virtkey => ../..
