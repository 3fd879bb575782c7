package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/libcontainer"
)

var pauseCommand = &cli.Command{
	Name:  "pause",
	Usage: "pause suspends all processes inside the container",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container to be
paused. `,
	Description: `The pause command suspends all processes in the instance of the container.

Use husk list to identify instances of containers and their current status.`,
	Action: func(_ context.Context, cmd *cli.Command) error {
		return withContainer(cmd, (*libcontainer.Container).Pause)
	},
}
