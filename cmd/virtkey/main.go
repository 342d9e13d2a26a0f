// Command virtkey is a virtual FIDO2 security key.
//
//	virtkey serve --udp 127.0.0.1:8111 [--state PATH] [--presence auto|deny]
//
// serve answers CTAPHID over UDP in the SoloKeys simulator convention: one
// 64-byte report per datagram, no report-ID byte, replies to the sender.
// With --state, the key's state lives in PATH, written atomically and
// durably before any response that depends on it leaves; without it the key
// forgets everything when it stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctaphid"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: virtkey serve --udp ADDR [--state PATH] [--presence auto|deny] [--log-level LEVEL]`)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "help", "-h", "--help":
		usage(stderr)
		return 0
	}
	fmt.Fprintf(stderr, "virtkey: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// listening is told the address the daemon serves on; tests replace it.
var listening = func(net.Addr) {}

// serve runs the key until ctx ends.
func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("virtkey serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		udpAddr  = fs.String("udp", "", "serve over UDP at this address, e.g. 127.0.0.1:8111")
		state    = fs.String("state", "", "keep the key's state in this file (default: memory only)")
		presence = fs.String("presence", "auto", "how user presence is answered: auto (touched at once) or deny")
		level    = fs.String("log-level", "info", "log level: debug, info, warn, error")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "virtkey: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if *udpAddr == "" {
		fmt.Fprintln(stderr, "virtkey: serve needs --udp ADDR (uhid is not available in this build)")
		return 2
	}
	cfg := authenticator.Config{}
	switch *presence {
	case "auto":
		cfg.Presence = authenticator.AutoPresence{}
	case "deny":
		cfg.Presence = authenticator.DenyPresence{}
	default:
		fmt.Fprintf(stderr, "virtkey: --presence %q: want auto or deny\n", *presence)
		return 2
	}
	if *state != "" {
		cfg.Store = authenticator.NewFileStore(*state)
	}
	key, err := authenticator.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "virtkey: %v\n", err)
		return 1
	}
	dev, err := ctaphid.ListenUDP(*udpAddr)
	if err != nil {
		fmt.Fprintf(stderr, "virtkey: %v\n", err)
		return 1
	}
	if la, ok := dev.(interface{ LocalAddr() net.Addr }); ok {
		listening(la.LocalAddr())
		*udpAddr = la.LocalAddr().String()
	}
	log.Info("serving", "udp", *udpAddr, "state", *state, "presence", *presence)
	err = ctaphid.Serve(ctx, dev, loggingHandler{key, log}, &ctaphid.ServerConfig{
		Logf: func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) },
	})
	dev.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "virtkey: %v\n", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
