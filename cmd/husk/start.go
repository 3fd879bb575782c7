package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/libcontainer"
)

var startCommand = &cli.Command{
	Name:  "start",
	Usage: "executes the user defined process in a created container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting.`,
	Description: `The start command executes the user defined process in a created container.`,
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, exactArgs); err != nil {
			return err
		}
		c, err := getContainer(cmd)
		if err != nil {
			return err
		}
		st, err := c.State()
		if err != nil {
			return err
		}
		switch st.Status {
		case libcontainer.Created:
			return c.Start()
		case libcontainer.Stopped:
			return errors.New("cannot start a container that has stopped")
		case libcontainer.Running:
			return errors.New("cannot start an already running container")
		default:
			return fmt.Errorf("cannot start a container in the %s state", st.Status)
		}
	},
}
