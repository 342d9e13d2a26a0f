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
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/profile"
	"github.com/virtkey/virtkey/uhid"
)

// listening is told the address the daemon serves on (for uhid, the
// uhid path) once the device and the control socket are up; tests
// replace it.
var listening = func(net.Addr) {}

// stdin is where --presence prompt reads its answers; tests replace it.
var stdin io.Reader = os.Stdin

// controlOff disables the control socket: --control off.
const controlOff = "off"

// serveFlags are the flags of `virtkey serve`.
type serveFlags struct {
	udp, state, presence, control, profile string
	name, vid, pid, uhidPath, readyFile    string
	level                                  slog.Level
	touchTimeout                           time.Duration
	set                                    map[string]bool // flags given on the command line
	vendor, product                        uint32
	udpAllowRemote                         bool
	maxCreds                               int
	faults                                 faultList        // faults.go
	switches                               profile.Switches // the --has-* flags, profiles.go
	firmware                               firmwareFlag     // firmware.go
}

const serveUsage = `usage: virtkey serve [flags]

Runs the virtual FIDO2 security key until SIGINT or SIGTERM: a USB HID key
through /dev/uhid (the default), or with --udp a key answering CTAPHID over
UDP, one 64-byte report per datagram. Without --state the key lives in memory
and is gone at exit. With --presence control or prompt, a request for a touch
waits for "virtkey touch", "virtkey deny" or a typed answer, at most
--touch-timeout.

examples:
  virtkey serve --state ~/.local/state/virtkey/key.state --presence prompt
  virtkey serve --udp 127.0.0.1:8111 --control /tmp/vk.sock

flags:
`

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("virtkey serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by serve
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.udp, "udp", "", "serve over UDP at this address (e.g. 127.0.0.1:8111) instead of creating a uhid device; a loopback address only, unless --udp-allow-remote")
	fs.BoolVar(&f.udpAllowRemote, "udp-allow-remote", false, "let --udp listen on an address other machines can reach (0.0.0.0, :PORT, a LAN address). UDP has no access control: anyone who can send to the port can use the key, make and use credentials, try PINs and reset it")
	fs.StringVar(&f.state, "state", "", "keep the key's state in this file (default: memory only, forgotten at exit)")
	fs.IntVar(&f.maxCreds, "max-credentials", 0, "how many discoverable credentials the key holds (default: the profile's, 100 for most)")
	fs.StringVar(&f.presence, "presence", presenceAuto, "how user presence is answered: "+strings.Join(presenceModes, ", "))
	fs.DurationVar(&f.touchTimeout, "touch-timeout", authenticator.DefaultTouchTimeout,
		"how long a request for a touch, a UV or a finger waits before the key gives up (0: wait until answered or cancelled)")
	fs.StringVar(&f.control, "control", defaultControlPath(), "control socket path, or \"off\"")
	fs.StringVar(&f.profile, "profile", defaultProfile, "device profile: "+profileNames()+" (listed by: virtkey profiles)")
	fs.StringVar(&f.name, "name", "", "uhid: HID device name (default: the profile's)")
	fs.StringVar(&f.vid, "vid", "", fmt.Sprintf("uhid: USB vendor ID in hex (default %04x)", uhid.DefaultVendorID))
	fs.StringVar(&f.pid, "pid", "", fmt.Sprintf("uhid: USB product ID in hex (default %04x)", uhid.DefaultProductID))
	fs.StringVar(&f.uhidPath, "uhid", uhid.DefaultPath, "uhid: the uhid device node")
	fs.StringVar(&f.readyFile, "ready-file", "", "once serving, write the device address (UDP host:port or uhid path) to this file; removed at exit")
	fs.Var(&f.faults, "fault", "make the key misbehave on purpose: fault names, comma-separated (listed by: virtkey faults)")
	fs.TextVar(&f.level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	switchFlags(fs, &f.switches)
	f.firmware.v = defaultFirmware()
	fs.Var(&f.firmware, "firmware-version", "getInfo's firmwareVersion: MAJOR.MINOR.PATCH (sent as MAJOR<<16|MINOR<<8|PATCH) or a number, 0 for none (default: this build's version, "+develFirmware+" unless built from a release)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return nil, err
		}
		return nil, fmt.Errorf("%w (virtkey serve --help lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })

	if f.set["max-credentials"] && f.maxCreds < 1 {
		return nil, fmt.Errorf("--max-credentials %d: want at least 1", f.maxCreds)
	}
	prof, ok := lookupProfile(f.profile)
	if !ok {
		return nil, fmt.Errorf("--profile %q: want one of %s", f.profile, profileNames())
	}
	f.switches.Apply(prof)
	if _, err := authenticator.New(prof.Config); err != nil {
		return nil, fmt.Errorf("--profile %s with the --has-* switches given: %v", f.profile, err)
	}
	if !validPresence(f.presence) {
		return nil, fmt.Errorf("--presence %q: want one of %s", f.presence, strings.Join(presenceModes, ", "))
	}
	if f.udp != "" {
		for _, n := range []string{"name", "vid", "pid", "uhid"} {
			if f.set[n] {
				return nil, fmt.Errorf("--%s is for uhid devices and does not go with --udp", n)
			}
		}
		if err := checkUDPAddr(f.udp, f.udpAllowRemote); err != nil {
			return nil, err
		}
	} else if f.udpAllowRemote {
		return nil, errors.New("--udp-allow-remote goes with --udp")
	}
	var err error
	if f.vendor, err = parseHexID("vid", f.vid); err != nil {
		return nil, err
	}
	if f.product, err = parseHexID("pid", f.pid); err != nil {
		return nil, err
	}
	if len(f.name) > 127 {
		return nil, fmt.Errorf("--name: %d bytes, at most 127", len(f.name))
	}
	if f.control == "" {
		f.control = controlOff
		if f.set["control"] {
			return nil, errors.New("--control: empty path (use \"off\" for no control socket)")
		}
	}
	if f.touchTimeout < 0 {
		return nil, fmt.Errorf("--touch-timeout %v: want a duration of 0 or more", f.touchTimeout)
	}
	if f.presence == presenceControl && f.control == controlOff {
		return nil, errors.New("--presence control needs a control socket: give --control PATH (or set XDG_RUNTIME_DIR)")
	}
	return f, nil
}

// checkUDPAddr refuses a --udp address that other machines can reach
// unless allowRemote: the UDP transport has no access control, so anyone who
// can send it a datagram can use the key.
func checkUDPAddr(addr string, allowRemote bool) error {
	loopback, err := ctaphid.IsLoopback(addr)
	if err != nil {
		return fmt.Errorf("--udp %q: want HOST:PORT, such as 127.0.0.1:8111", addr)
	}
	if !loopback && !allowRemote {
		return fmt.Errorf("--udp %s is not a loopback address: other machines could use the key, as UDP has no access control; listen on 127.0.0.1, or give --udp-allow-remote", addr)
	}
	return nil
}

func validPresence(s string) bool {
	for _, m := range presenceModes {
		if s == m {
			return true
		}
	}
	return false
}

// parseHexID parses a USB vendor or product ID, "1209" or "0x1209";
// empty means the default (0).
func parseHexID(name, s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 16)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("--%s %q: want a non-zero 16-bit hex number such as 1209", name, s)
	}
	return uint32(v), nil
}

// serve is `virtkey serve`: it runs the key until ctx ends. Exit codes: 2
// for a usage error, 1 when the key cannot start or fails.
func serve(ctx context.Context, args []string, stderr io.Writer) int {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "virtkey serve: %v\n", err)
			return 2
		}
		return 0
	}
	term := &terminal{w: stderr} // the log and --presence prompt's questions share it
	log := slog.New(slog.NewTextHandler(logWriter{term}, &slog.HandlerOptions{Level: f.level}))
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "virtkey: "+format+"\n", args...)
		return 1
	}
	prof, _ := lookupProfile(f.profile)
	f.switches.Apply(prof) // --has-resident-key and the others (profile.Switches)

	// The state first: a key that cannot read its state does not start,
	// and the file stays as it is.
	d := &daemon{profile: prof, statePath: f.state, started: time.Now(), clock: control.NewClock(time.Now)}
	cfg := authenticator.Config{OnWink: func() { log.Debug("wink") }, OnCredentialEvent: logCredentialEvent(log)}
	applyProfile(prof, &cfg)
	cfg.FirmwareVersion = f.firmware.v
	cfg.TouchTimeout = f.touchTimeout
	if f.touchTimeout == 0 {
		cfg.TouchTimeout = -1 // wait until answered or cancelled
	}
	if f.maxCreds > 0 {
		cfg.MaxCredentials = f.maxCreds
	}
	if len(f.faults) > 0 {
		cfg.Faults = f.faults
		log.Warn("the key has faults on purpose", "faults", f.faults.String())
	}
	if f.state != "" {
		abs, err := filepath.Abs(f.state)
		if err != nil {
			return fail("--state %s: %v", f.state, err)
		}
		d.statePath = abs
		if err := checkStateFile(abs, log); err != nil {
			return fail("%v", err)
		}
		fstore, err := authenticator.OpenFileStore(abs)
		if err != nil {
			var locked *authenticator.LockedError
			if errors.As(err, &locked) {
				return fail("%v: another virtkey serves this key; stop it first", err)
			}
			if errors.Is(err, authenticator.ErrCorruptState) {
				return fail("state file %s cannot be read: %v\nThe file was left as it is. Move it away to start with a new, empty key, or restore it from a backup.", abs, err)
			}
			return fail("%v", err)
		}
		defer fstore.Close()
		d.store = &watchedStore{Store: fstore}
	} else {
		d.store = &watchedStore{Store: authenticator.NewMemoryStore()}
	}
	cfg.Store = d.store
	d.presence = newUserPresence(f.presence, log, stdin, term)
	d.cfg = cfg
	key, err := d.newKey()
	if err != nil {
		if errors.Is(err, authenticator.ErrCorruptState) {
			return fail("state file %s cannot be read: %v\nThe file was left as it is. Move it away to start with a new, empty key, or restore it from a backup.", d.statePath, err)
		}
		if d.statePath != "" {
			return fail("starting the key with state file %s: %v", d.statePath, err)
		}
		return fail("starting the key: %v", err)
	}
	d.key = key
	if f.state != "" {
		// Reading a large state leaves garbage several times the file's
		// size (the file itself, decoded records): hand it back now
		// rather than whenever the collector gets to it.
		debug.FreeOSMemory()
	}

	var dev ctaphid.ReportDevice
	var addr net.Addr
	if f.udp != "" {
		dev, err = ctaphid.ListenUDP(f.udp)
		if err != nil {
			return fail("%v", err)
		}
		if la, ok := dev.(interface{ LocalAddr() net.Addr }); ok {
			addr = la.LocalAddr()
		}
		d.transport = "udp " + addr.String()
	} else {
		ucfg := uhid.Config{
			Path:      f.uhidPath,
			Name:      f.name,
			Phys:      "virtkey",
			Bus:       uhid.BusUSB,
			VendorID:  f.vendor,
			ProductID: f.product,
			Logf:      func(format string, args ...any) { log.Debug("uhid: " + fmt.Sprintf(format, args...)) },
		}
		if ucfg.Name == "" {
			ucfg.Name = prof.DeviceName
		}
		udev, err := uhid.Create(ucfg)
		if err != nil {
			fmt.Fprintf(stderr, "virtkey: %v\n", err)
			if errors.Is(err, uhid.ErrNoUHID) || errors.Is(err, uhid.ErrPermission) {
				fmt.Fprintln(stderr, "virtkey: see docs/running.md, or serve over UDP with --udp 127.0.0.1:8111")
			}
			return 1
		}
		dev = udev
		addr = &net.UnixAddr{Name: f.uhidPath, Net: "uhid"}
		vid, pid := ucfg.VendorID, ucfg.ProductID
		if vid == 0 {
			vid = uhid.DefaultVendorID
		}
		if pid == 0 {
			pid = uhid.DefaultProductID
		}
		d.transport = fmt.Sprintf("uhid %s %q %04x:%04x", f.uhidPath, ucfg.Name, vid, pid)
	}

	// Then the control socket; the device goes away if it cannot be had.
	var ctl *controlListener
	if f.control != controlOff {
		if err := controlSocketDir(f.control, log); err != nil {
			dev.Close()
			return fail("%v", err)
		}
		if ctl, err = listenControl(f.control); err != nil {
			dev.Close()
			return fail("%v", err)
		}
		defer ctl.Close()
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	if ctl != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serveControl(ctx, ctl, log)
		}()
	}

	if f.readyFile != "" {
		if err := writeReadyFile(f.readyFile, addr.String()); err != nil {
			dev.Close()
			return fail("--ready-file: %v", err)
		}
		defer os.Remove(f.readyFile)
	}
	listening(addr)
	log.Info("serving", "transport", d.transport, "profile", prof.Name, "state", d.statePath,
		"presence", f.presence, "touch-timeout", f.touchTimeout, "control", f.control)

	err = ctaphid.Serve(ctx, dev, d.handler(log), serverConfig(prof, &ctaphid.ServerConfig{
		Logf: func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) },
	}))
	dev.Close() // Serve closed it already; for uhid this destroyed the device
	cancel()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fail("%v", err)
	}
	log.Info("stopped")
	return 0
}

// controlSocketDir makes sure the control socket's folder exists: a
// missing one (XDG_RUNTIME_DIR not created yet, a minimal system without
// /run) is created, private to the user, and the log says where the socket
// is. The shared-temp fallback folder must be the user's own and private,
// so that nobody else can put a socket there first.
func controlSocketDir(path string, log *slog.Logger) error {
	dir := filepath.Dir(path)
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("control socket %s: creating its folder: %w", path, err)
		}
		log.Info("created the control socket's folder", "socket", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if dir == fallbackControlDir() {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("control socket %s: %s is not a folder private to this user; remove it or give --control PATH", path, dir)
		}
	}
	return nil
}

// checkStateFile refuses a state path that is not a regular file and
// warns when others may read it; opening the store makes it 0600.
func checkStateFile(path string, log *slog.Logger) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("state file %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("state file %s: not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		log.Warn("state file was readable by others; it is now 0600", "path", path, "mode", fi.Mode().Perm())
	}
	return nil
}

// writeReadyFile writes the address atomically: a reader sees no file or
// the whole address.
func writeReadyFile(path, addr string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".virtkey-ready-")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(addr + "\n"); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
