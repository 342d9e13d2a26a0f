package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/virtkey/virtkey/client"
)

// keyFlags are the target flags the subcommands share with the suite:
// --udp, --device, --control and --allow-destructive.
type keyFlags struct {
	name                 string // "ctaptest prop", for messages
	udp, device, ctlPath *string
	destructive          *bool
}

// newSubcommand makes the flag set of a subcommand with the shared target
// flags; destructiveHelp says what --allow-destructive does there.
func newSubcommand(name, usage, destructiveHelp string, stderr io.Writer) (*flag.FlagSet, *keyFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	k := &keyFlags{
		name:        name,
		udp:         fs.String("udp", "", "a key over UDP at this address"),
		device:      fs.String("device", "", "a hardware key at this hidraw node"),
		ctlPath:     fs.String("control", "", "a virtkey daemon's control socket, for power cycles"),
		destructive: fs.Bool("allow-destructive", false, destructiveHelp),
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs, k
}

// parse parses args; it returns an exit code and false when the command
// ends here (help, a usage error).
func (k *keyFlags) parse(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", k.name, fs.Arg(0))
		return 2, false
	}
	if *k.udp != "" && *k.device != "" {
		fmt.Fprintf(stderr, "%s: --udp and --device exclude each other\n", k.name)
		return 2, false
	}
	return 0, true
}

// inProcess reports whether no key was named: the in-process key.
func (k *keyFlags) inProcess() bool { return *k.udp == "" && *k.device == "" }

// open returns how to connect to the named key, and how to name it.
func (k *keyFlags) open() (func(ctx context.Context) (*client.Device, error), string) {
	addr, path := *k.udp, *k.device
	if path != "" {
		return func(ctx context.Context) (*client.Device, error) { return client.OpenHID(ctx, path) }, "hidraw " + path
	}
	return func(ctx context.Context) (*client.Device, error) { return client.OpenUDP(ctx, addr) }, "UDP " + addr
}

// powerCycle returns the daemon's power cycle through --control, or nil.
func (k *keyFlags) powerCycle() func(ctx context.Context) error {
	if *k.ctlPath == "" {
		return nil
	}
	return (&socketController{path: *k.ctlPath}).PowerCycle
}
