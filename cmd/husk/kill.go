package main

import (
	"context"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

var killCommand = &cli.Command{
	Name:  "kill",
	Usage: "kill sends the specified signal (default: SIGTERM) to the container's init process",
	ArgsUsage: `<container-id> [signal]

Where "<container-id>" is the name for the instance of the container and
"[signal]" is the signal to be sent to the init process: a number, a name
with or without the SIG prefix in any case, or RTMIN+N / RTMAX-N.

EXAMPLE:
For example, if the container id is "ubuntu01" the following will send a "KILL"
signal to the init process of the "ubuntu01" container:

       # husk kill ubuntu01 KILL`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
	},
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, minArgs); err != nil {
			return err
		}
		if err := checkArgs(cmd, 2, maxArgs); err != nil {
			return err
		}
		sig := unix.SIGTERM
		if raw := cmd.Args().Get(1); raw != "" {
			var err error
			if sig, err = parseSignal(raw); err != nil {
				return err
			}
		}
		c, err := getContainer(cmd)
		if err != nil {
			return err
		}
		return c.Signal(sig, cmd.Bool("all"))
	},
}
