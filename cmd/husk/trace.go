package main

import (
	"fmt"
	"os"

	"github.com/husk-runtime/husk/libcontainer"
)

// tracer records the phases of this command when --trace is given; nil
// (recording nothing) otherwise.
var (
	tracer    *libcontainer.Trace
	tracePath string
	endTotal  func()
)

// startTrace starts the trace of this command. Its time zero is when the
// process started (processStart), so that the time before the first phase
// is the Go runtime's start, and what C threads did meanwhile shows.
func startTrace(path string) {
	tracer = libcontainer.NewTraceAt(processStart())
	tracePath = path
	endTotal = tracer.Begin("total")
}

// exit ends the command with code, writing the trace first. What was
// started ahead for a container that no create took ends first.
func exit(code int) {
	libcontainer.DiscardAhead()
	if tracer != nil {
		endTotal()
		if err := tracer.WriteFile(tracePath); err != nil {
			fmt.Fprintf(os.Stderr, "husk: write trace %s: %v\n", tracePath, err)
		}
	}
	os.Exit(code)
}
