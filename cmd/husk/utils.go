package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/internal/rawfile"
	"github.com/husk-runtime/husk/libcontainer"
	"github.com/husk-runtime/husk/specconv"
)

// Argument count checks, as runc's commands do them.
const (
	exactArgs = iota
	minArgs
	maxArgs
)

// afterID is what StopOnNthArg points to in the commands whose flags end
// at the container ID, their first argument. A variable rather than
// new(1), which is allocated at every process start; cli only reads it.
var afterID = 1

// checkArgs verifies the number of positional arguments of the current
// command and prints its usage when they are wrong.
func checkArgs(cmd *cli.Command, expected, kind int) error {
	var err error
	name := cmd.Name
	switch kind {
	case exactArgs:
		if cmd.NArg() != expected {
			err = fmt.Errorf("%s: %q requires exactly %d argument(s)", os.Args[0], name, expected)
		}
	case minArgs:
		if cmd.NArg() < expected {
			err = fmt.Errorf("%s: %q requires a minimum of %d argument(s)", os.Args[0], name, expected)
		}
	case maxArgs:
		if cmd.NArg() > expected {
			err = fmt.Errorf("%s: %q requires a maximum of %d argument(s)", os.Args[0], name, expected)
		}
	}
	if err != nil {
		fmt.Printf("Incorrect Usage.\n\n")
		// Every command is a child of the root; the context only matters
		// to a CommandNotFound hook, which husk does not set.
		_ = cli.ShowCommandHelp(context.Background(), cmd.Root(), name)
	}
	return err
}

// errEmptyID is returned when a command is given "" as the container id.
var errEmptyID = errors.New("container id cannot be empty")

// stateRoot returns the --root directory (made absolute in main's Before).
func stateRoot(cmd *cli.Command) string {
	return cmd.String("root")
}

// getContainer loads the container named by the first argument.
func getContainer(cmd *cli.Command) (*libcontainer.Container, error) {
	id := cmd.Args().First()
	if id == "" {
		return nil, errEmptyID
	}
	endLoad := tracer.Begin("load")
	c, err := libcontainer.Load(stateRoot(cmd), id)
	endLoad()
	if err == nil {
		c.SetTrace(tracer)
	}
	return c, err
}

// createContainer implements what `create` and `run` share: load the
// bundle's config.json, convert it and create the container, leaving its
// init blocked before execve. detach says whether husk exits after start,
// in which case a terminal needs a console socket to hand the pty to;
// startNext that the caller starts (or destroys) the container next, with
// the lock Create keeps and without an exec fifo, letting the program
// start as early as it can (libcontainer.CreateOpts.HoldLock, StartHere,
// StartEarly).
func createContainer(cmd *cli.Command, id string, detach, startNext bool) (*libcontainer.Container, error) {
	if id == "" {
		return nil, errEmptyID
	}
	libcontainer.PrepareSpawn()
	bundle, err := bundleDir(cmd)
	if err != nil {
		return nil, err
	}
	endParse := tracer.Begin("parse")
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.Convert(spec, specconv.Options{
		ID:            id,
		Bundle:        bundle,
		NoPivotRoot:   cmd.Bool("no-pivot"),
		NoNewKeyring:  cmd.Bool("no-new-keyring"),
		SystemdCgroup: cmd.Bool("systemd-cgroup"),
	})
	if err != nil {
		return nil, err
	}
	endParse()
	consoleSocket := cmd.String("console-socket")
	if consoleSocket != "" {
		if consoleSocket, err = filepath.Abs(consoleSocket); err != nil {
			return nil, fmt.Errorf("console socket path: %w", err)
		}
	}
	terminal := cfg.Process != nil && cfg.Process.Terminal
	if terminal && detach && consoleSocket == "" {
		return nil, errors.New("cannot allocate tty if husk will detach without setting console socket")
	}
	if !terminal && consoleSocket != "" {
		return nil, errors.New("cannot use console socket if husk will not allocate tty")
	}
	opts := &libcontainer.CreateOpts{
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
		ConsoleSocket: consoleSocket,
		Trace:         tracer,
		HoldLock:      startNext,
		StartHere:     startNext,
		// run writes the pid file and sets up the terminal between
		// create and start: the program starts after them, as with runc.
		StartEarly: startNext && !terminal && cmd.String("pid-file") == "",
	}
	// --preserve-fds N hands the caller's fds 3..3+N-1 to the container
	// unchanged, at the same numbers.
	for i := uint(0); i < cmd.Uint("preserve-fds"); i++ {
		fd := 3 + i
		opts.ExtraFiles = append(opts.ExtraFiles, os.NewFile(uintptr(fd), fmt.Sprintf("preserved fd %d", fd)))
	}
	root := stateRoot(cmd)
	c, err := libcontainer.Create(root, id, cfg, opts)
	if err != nil {
		return nil, err
	}
	logDebugf("created container %s in %s", id, root)
	return c, nil
}

// bundleDir returns the absolute --bundle directory ("." by default).
func bundleDir(cmd *cli.Command) (string, error) {
	bundle := cmd.String("bundle")
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return "", fmt.Errorf("bundle path %s: %w", bundle, err)
	}
	return abs, nil
}

// writePidFile writes the container's init pid to path without a newline,
// as runc does. It writes a temporary file next to path and renames it, so
// a reader (containerd's shim polls for the file) never sees it half
// written.
func writePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("pid file path %s: %w", path, err)
	}
	if err := rawfile.WriteAtomic(path, strconv.AppendInt(nil, int64(pid), 10), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// destroy removes a container after a failed create or start, so that a
// failure leaves neither state nor cgroup behind. The failure being
// reported is the original one; this one is only logged.
func destroy(c *libcontainer.Container) {
	if err := c.Delete(true); err != nil {
		logWarnf("remove container %s after failure: %v", c.ID(), err)
	}
}

// withContainer does the work of the commands that take only a container
// ID and call one method of the container: it checks cmd's arguments and
// calls fn on the container. Each command's action is a func literal
// calling it, not a closure withContainer would return: a closure made by
// a call in a package variable's initializer is allocated at every
// process start, a func literal there is not.
func withContainer(cmd *cli.Command, fn func(*libcontainer.Container) error) error {
	if err := checkArgs(cmd, 1, exactArgs); err != nil {
		return err
	}
	c, err := getContainer(cmd)
	if err != nil {
		return err
	}
	return fn(c)
}
