package main

import (
	"context"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer"
)

var runCommand = &cli.Command{
	Name:  "run",
	Usage: "create and run a container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.`,
	Description: `The run command creates an instance of a container for a bundle, starts it
and, unless --detach is given, waits for it: signals husk receives are
forwarded to the container's init, husk exits with the container's exit
status (128+N when a signal N killed it) and deletes the container unless
--keep is given.`,
	Flags: []cli.Flag{
		bundleFlag,
		consoleSocketFlag,
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		pidFileFlag,
		&cli.BoolFlag{Name: "no-subreaper", Usage: "accepted for runc compatibility; husk waits for the container's init as its parent"},
		noPivotFlag,
		noNewKeyringFlag,
		preserveFdsFlag,
	},
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, exactArgs); err != nil {
			return err
		}
		code, err := runContainer(cmd, cmd.Args().First())
		if err != nil {
			return err
		}
		if code != 0 {
			exit(code)
		}
		return nil
	},
}

// runContainer creates and starts the container and, in the foreground,
// relays signals and the terminal until its init exits. It returns the
// container's exit code.
func runContainer(cmd *cli.Command, id string) (int, error) {
	detach := cmd.Bool("detach")
	var sigc *signalSub
	if !detach {
		var err error
		if sigc, err = subscribeSignals(); err != nil {
			return -1, err
		}
	}
	c, err := createContainer(cmd, id, detach, true)
	if err != nil {
		return -1, err
	}
	var tty *ttyRelay
	if master := c.Console(); master != nil && !detach {
		if tty, err = newTTYRelay(master); err != nil {
			destroy(c)
			return -1, err
		}
	}
	fail := func(err error) (int, error) {
		tty.restore()
		destroy(c)
		return -1, err
	}
	if path := cmd.String("pid-file"); path != "" {
		if err := writePidFile(path, c.Pid()); err != nil {
			return fail(err)
		}
	}
	if err := c.Start(); err != nil {
		return fail(err)
	}
	if detach {
		return 0, nil
	}
	code, werr := forwardUntilExit(c, sigc, tty)
	if !cmd.Bool("keep") {
		if err := c.Delete(true); err != nil {
			logErrorf("delete container %s: %v", id, err)
		}
	}
	// The pty's output ends once every process holding its slave is gone;
	// wait for it so the container's last words reach the caller.
	tty.drain()
	tty.restore()
	if werr != nil {
		return -1, werr
	}
	return code, nil
}

// forwardUntilExit forwards the signals husk receives to the container's
// init until it exits, and returns its exit code (see forwardSignals).
func forwardUntilExit(c *libcontainer.Container, sigc *signalSub, tty *ttyRelay) (int, error) {
	send := func(sig unix.Signal) error { return c.Signal(sig, false) }
	return forwardSignals(sigc, tty, "container "+c.ID(), c.Pid(), send, c.Wait)
}
