package main

import (
	"context"
	"github.com/urfave/cli/v3"
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
		if err := checkArgs(cmd, 1, exactArgs); err != nil {
			return err
		}
		c, err := getContainer(cmd)
		if err != nil {
			return err
		}
		return c.Resume()
	},
}
