package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v3"
)

var stateCommand = &cli.Command{
	Name:  "state",
	Usage: "output the state of a container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container.`,
	Description: `The state command outputs current state information for the
instance of a container.`,
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
		_, err = os.Stdout.Write(st.IndentedJSON())
		return err
	},
}
