package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/webauthn"
)

// virtkey webauthn create|get: a browser's part of a WebAuthn ceremony
// from the shell. The relying party's options JSON comes on stdin (bare or
// wrapped as {"publicKey": …}), the response JSON that
// PublicKeyCredential.toJSON() would give goes to stdout, so that
//
//	curl … register-start | virtkey webauthn create --origin https://… | curl … register-finish
//
// works. The key is a daemon over UDP, a hidraw device, or the first FIDO
// hidraw device. A failure prints the DOMException name a browser would
// reject with and exits 1.

// webauthnStdin is where the options come from; tests replace it.
var webauthnStdin io.Reader = os.Stdin

const webauthnUsage = `usage: virtkey webauthn create|get --origin URL [--udp ADDR | --device PATH] [--pin-file F] [--user NAME]

Reads PublicKeyCredentialCreationOptionsJSON (create) or
PublicKeyCredentialRequestOptionsJSON (get) on stdin, bare or as
{"publicKey": ...}, runs the ceremony as a browser at origin URL would, and
writes the RegistrationResponseJSON or AuthenticationResponseJSON on stdout.
Without --udp or --device the first FIDO hidraw device is used. A failure
prints the DOMException name (NotAllowedError, InvalidStateError,
SecurityError, NotSupportedError, ConstraintError, ...) and exits 1.

flags:`

func webauthnCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "create" && args[0] != "get") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, webauthnUsage)
			webauthnFlags(stdout, new(webauthnOptions)).PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, webauthnUsage)
		webauthnFlags(stderr, new(webauthnOptions)).PrintDefaults()
		return 2
	}
	op := args[0]
	var o webauthnOptions
	fs := webauthnFlags(stderr, &o)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "virtkey webauthn %s: unexpected argument %q\n", op, fs.Arg(0))
		return 2
	}
	if o.origin == "" {
		fmt.Fprintf(stderr, "virtkey webauthn %s: --origin is required\n", op)
		return 2
	}
	if o.udp != "" && o.device != "" {
		fmt.Fprintf(stderr, "virtkey webauthn %s: --udp and --device exclude each other\n", op)
		return 2
	}
	if err := webauthn.CheckOrigin(o.origin); err != nil {
		fmt.Fprintf(stderr, "virtkey webauthn %s: %v\n", op, err)
		return 1
	}
	options, err := io.ReadAll(io.LimitReader(webauthnStdin, 1<<20))
	if err != nil {
		fmt.Fprintf(stderr, "virtkey webauthn %s: reading options: %v\n", op, err)
		return 1
	}
	out, err := o.run(ctx, op, options, stderr)
	if err != nil {
		// A webauthn.Error prints as its DOMException name first.
		fmt.Fprintf(stderr, "virtkey webauthn %s: %v\n", op, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return 0
}

type webauthnOptions struct {
	origin, udp, device, pinFile, user string
}

func webauthnFlags(w io.Writer, o *webauthnOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("virtkey webauthn", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&o.origin, "origin", "", "the caller `URL`'s origin, https://… or http://localhost…")
	fs.StringVar(&o.udp, "udp", "", "a key answering CTAPHID over UDP at `ADDR` (virtkey serve --udp)")
	fs.StringVar(&o.device, "device", "", "a hidraw device `PATH` such as /dev/hidraw0")
	fs.StringVar(&o.pinFile, "pin-file", "", "read the key's PIN from file `F` when the ceremony needs it")
	fs.StringVar(&o.user, "user", "", "for a login without allowCredentials, the account `NAME` to use (default: the newest)")
	return fs
}

func (o *webauthnOptions) run(ctx context.Context, op string, options []byte, stderr io.Writer) ([]byte, error) {
	dev, err := o.open(ctx)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	var prompt sync.Once
	opts := []webauthn.Option{webauthn.WithKeepalive(func(s ctaphid.KeepaliveStatus) {
		if s == ctaphid.StatusUPNeeded {
			prompt.Do(func() { fmt.Fprintln(stderr, "virtkey webauthn: touch the key") })
		}
	})}
	if o.pinFile != "" {
		file := o.pinFile
		opts = append(opts, webauthn.WithPIN(func(ctx context.Context, retries int) (string, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}))
	}
	if o.user != "" {
		name := o.user
		opts = append(opts, webauthn.WithAccountChooser(func(ctx context.Context, accounts []webauthn.Account) (int, error) {
			for i, a := range accounts {
				if a.Name == name {
					return i, nil
				}
			}
			return 0, fmt.Errorf("no account named %q among the %d offered (the key tells names only after user verification)", name, len(accounts))
		}))
	}
	c, err := webauthn.Open(ctx, dev, o.origin, opts...)
	if err != nil {
		return nil, err
	}
	if op == "create" {
		return c.Create(ctx, options)
	}
	return c.Get(ctx, options)
}

func (o *webauthnOptions) open(ctx context.Context) (*client.Device, error) {
	switch {
	case o.udp != "":
		return client.OpenUDP(ctx, o.udp)
	case o.device != "":
		return client.OpenHID(ctx, o.device)
	}
	devs, err := client.ListHIDDevices()
	if err != nil {
		return nil, fmt.Errorf("listing FIDO hidraw devices: %w", err)
	}
	if len(devs) == 0 {
		return nil, errors.New("no FIDO hidraw device found: give --udp ADDR or --device PATH")
	}
	return client.OpenHID(ctx, devs[0].Path)
}
