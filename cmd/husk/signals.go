package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Real-time signal bounds as user space sees them: glibc reserves 32 and
// 33 for its threading implementation, so SIGRTMIN is 34 for `kill -l`,
// for runc and for every container image built on glibc or musl.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signalTable is husk's one table of signal names, used to parse `kill`
// arguments. Names are without the SIG prefix, upper case. A table, not a
// map: a map literal is built by code at every process start, and `kill`
// looks up one name.
var signalTable = []struct {
	name string
	sig  unix.Signal
}{
	{"ABRT", unix.SIGABRT},
	{"ALRM", unix.SIGALRM},
	{"BUS", unix.SIGBUS},
	{"CHLD", unix.SIGCHLD},
	{"CLD", unix.SIGCHLD},
	{"CONT", unix.SIGCONT},
	{"FPE", unix.SIGFPE},
	{"HUP", unix.SIGHUP},
	{"ILL", unix.SIGILL},
	{"INT", unix.SIGINT},
	{"IO", unix.SIGIO},
	{"IOT", unix.SIGIOT},
	{"KILL", unix.SIGKILL},
	{"PIPE", unix.SIGPIPE},
	{"POLL", unix.SIGPOLL},
	{"PROF", unix.SIGPROF},
	{"PWR", unix.SIGPWR},
	{"QUIT", unix.SIGQUIT},
	{"SEGV", unix.SIGSEGV},
	{"STKFLT", unix.SIGSTKFLT},
	{"STOP", unix.SIGSTOP},
	{"SYS", unix.SIGSYS},
	{"TERM", unix.SIGTERM},
	{"TRAP", unix.SIGTRAP},
	{"TSTP", unix.SIGTSTP},
	{"TTIN", unix.SIGTTIN},
	{"TTOU", unix.SIGTTOU},
	{"URG", unix.SIGURG},
	{"USR1", unix.SIGUSR1},
	{"USR2", unix.SIGUSR2},
	{"VTALRM", unix.SIGVTALRM},
	{"WINCH", unix.SIGWINCH},
	{"XCPU", unix.SIGXCPU},
	{"XFSZ", unix.SIGXFSZ},
}

// signalByName returns the signal signalTable calls name, reporting
// whether it has the name.
func signalByName(name string) (unix.Signal, bool) {
	for _, e := range signalTable {
		if e.name == name {
			return e.sig, true
		}
	}
	return 0, false
}

// parseSignal parses a `kill` signal argument: a number ("9"), a name with
// or without the SIG prefix in any case ("SIGKILL", "kill"), or a real-time
// signal relative to RTMIN/RTMAX ("RTMIN+3", "SIGRTMAX-1").
func parseSignal(raw string) (unix.Signal, error) {
	if n, err := strconv.Atoi(raw); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("invalid signal number %d: must be between 1 and %d", n, sigRTMax)
		}
		return unix.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(raw), "SIG")
	if sig, ok := signalByName(name); ok {
		return sig, nil
	}
	if sig, ok := parseRTSignal(name); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", raw)
}

// parseRTSignal parses "RTMIN", "RTMIN+N", "RTMAX" and "RTMAX-N".
func parseRTSignal(name string) (unix.Signal, bool) {
	var base, sign int
	var rest string
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, sign, rest = sigRTMin, 1, name[len("RTMIN"):]
	case strings.HasPrefix(name, "RTMAX"):
		base, sign, rest = sigRTMax, -1, name[len("RTMAX"):]
	default:
		return 0, false
	}
	if rest == "" {
		return unix.Signal(base), true
	}
	op := "+"
	if sign < 0 {
		op = "-"
	}
	if !strings.HasPrefix(rest, op) {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n < 0 {
		return 0, false
	}
	sig := base + sign*n
	if sig < sigRTMin || sig > sigRTMax {
		return 0, false
	}
	return unix.Signal(sig), true
}
