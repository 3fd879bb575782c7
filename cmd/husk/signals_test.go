package main

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignalAcceptsNamesNumbersAndRealTime(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"9":          unix.SIGKILL,
		"15":         unix.SIGTERM,
		"KILL":       unix.SIGKILL,
		"SIGKILL":    unix.SIGKILL,
		"kill":       unix.SIGKILL,
		"sigterm":    unix.SIGTERM,
		"SigHup":     unix.SIGHUP,
		"USR1":       unix.SIGUSR1,
		"SIGWINCH":   unix.SIGWINCH,
		"RTMIN":      34,
		"RTMIN+3":    37,
		"SIGRTMIN+3": 37,
		"rtmax":      64,
		"RTMAX-1":    63,
		"64":         64,
	} {
		got, err := parseSignal(in)
		if err != nil {
			t.Errorf("parseSignal(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("parseSignal(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseSignalRejectsUnknownAndOutOfRange(t *testing.T) {
	for _, in := range []string{"", "FOO", "SIG", "0", "-1", "65", "RTMIN+31", "RTMAX+1", "RTMIN-1", "RTMAX-31", "RTMIN+x", "KILL9"} {
		_, err := parseSignal(in)
		if err == nil {
			t.Errorf("parseSignal(%q) succeeded, want an error", in)
			continue
		}
		if in != "" && !strings.Contains(err.Error(), strings.TrimPrefix(in, "-")) {
			t.Errorf("parseSignal(%q) error %q does not name the input", in, err)
		}
	}
}

// Every signal x/sys/unix names has its name in fastpath.c's table.
func TestSignalNamesMatchKernelNames(t *testing.T) {
	for i := unix.Signal(1); i < 32; i++ {
		name := unix.SignalName(i)
		if name == "" {
			continue
		}
		if got, err := parseSignal(strings.TrimPrefix(name, "SIG")); err != nil || got != i {
			t.Errorf("signal %d (%s): parsed as %d, %v", i, name, got, err)
		}
	}
	for name, want := range map[string]unix.Signal{"CLD": unix.SIGCHLD, "IOT": unix.SIGABRT, "POLL": unix.SIGIO} {
		if got, err := parseSignal(name); err != nil || got != want {
			t.Errorf("alias %s: parsed as %d, %v; want %d", name, got, err, want)
		}
	}
}
