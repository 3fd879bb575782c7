// Command run is the smallest program that runs an OCI bundle through
// husk's library: load and convert the spec, create, start, wait, delete.
//
//	go run ./examples/run BUNDLE ID
package main

import (
	"fmt"
	"os"

	"github.com/husk-runtime/husk/libcontainer"
	// Enters the container's namespaces when this binary is re-executed
	// as the container's init (a cgo constructor, before the Go runtime).
	_ "github.com/husk-runtime/husk/nsenter"
	"github.com/husk-runtime/husk/specconv"
)

func main() {
	// libcontainer re-executes this binary as "<binary> init" to become
	// the container's init process.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: run BUNDLE ID")
		os.Exit(2)
	}
	code, err := run(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run runs the container ID from the absolute bundle directory and
// returns its exit code.
func run(bundle, id string) (int, error) {
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		return 0, err
	}
	cfg, err := specconv.Convert(spec, specconv.Options{ID: id, Bundle: bundle})
	if err != nil {
		return 0, err
	}
	stateRoot, err := os.MkdirTemp("", "husk-example-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(stateRoot)

	c, err := libcontainer.Create(stateRoot, id, cfg, &libcontainer.CreateOpts{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return 0, err
	}
	defer c.Delete(true)
	if err := c.Start(); err != nil {
		return 0, err
	}
	return c.Wait()
}
