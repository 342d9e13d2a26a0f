module github.com/virtkey/virtkey/interop/junit

go 1.26.0

replace github.com/virtkey/virtkey => ../..

require github.com/virtkey/virtkey v0.0.0-00010101000000-000000000000

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/joshdk/go-junit v1.0.0
	github.com/x448/float16 v0.8.4 // indirect
)
