package main

// #include "fastpath.h"
import "C"

import (
	"errors"
	"time"
)

// fastPathError returns the error of a command that fastpath.c began in
// C, before the Go runtime started, and could not finish (nil when it
// handed the command over untouched, or did not run): main reports it as
// it reports every error, in the log format the global flags ask for.
func fastPathError() error {
	if msg := C.GoString(C.husk_fast_path_error()); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// processStart is when this process started running husk's code: the time
// fastpath.c's constructor, the first one, recorded before the Go runtime
// started.
func processStart() time.Time { return time.Unix(0, int64(C.husk_start_ns())) }
