// Package gowebauthn checks virtkey's WebAuthn client against a relying
// party nobody here wrote, github.com/go-webauthn/webauthn, in its own
// module so that virtkey does not depend on it. The tests register and log
// in with in-process keys and keys reached over UDP.
package gowebauthn
