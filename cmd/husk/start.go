package main

import (
	"context"

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
		return withContainer(cmd, (*libcontainer.Container).Start)
	},
}
