package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/libcontainer"
)

var resumeCommand = &cli.Command{
	Name:  "resume",
	Usage: "resumes all processes that have been previously paused",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container to be
resumed.`,
	Description: `The resume command resumes all processes in the instance of the container.

Use husk list to identify instances of containers and their current status.`,
	Action: func(_ context.Context, cmd *cli.Command) error {
		return withContainer(cmd, (*libcontainer.Container).Resume)
	},
}
