package main

// #include <stdlib.h>
// #include "fastpath.h"
import "C"

import (
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigRTMax is the highest signal number (SIGRTMAX as user space numbers
// it).
const sigRTMax = 64

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
	// Names are the fast path's (fastpath.c), which runs `kill` before the
	// Go runtime starts: one table for both.
	craw := C.CString(raw)
	defer C.free(unsafe.Pointer(craw))
	if sig := C.husk_parse_signal(craw); sig > 0 {
		return unix.Signal(sig), nil
	}
	return 0, fmt.Errorf("unknown signal %q", raw)
}
