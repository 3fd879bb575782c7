package main

// #include "fastpath.h"
import "C"

import "errors"

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
