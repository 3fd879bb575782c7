package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/libcontainer"
)

var deleteCommand = &cli.Command{
	Name:  "delete",
	Usage: "delete any resources held by the container often used with detached container",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container.

EXAMPLE:
For example, if the container id is "ubuntu01" and husk list currently shows the
status of "ubuntu01" as "stopped" the following will delete resources held for
"ubuntu01" removing "ubuntu01" from the husk list of containers:

       # husk delete ubuntu01`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"},
	},
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, exactArgs); err != nil {
			return err
		}
		force := cmd.Bool("force")
		c, err := getContainer(cmd)
		if err != nil {
			if errors.Is(err, libcontainer.ErrNotExist) {
				removeLeftoverDir(stateRoot(cmd), cmd.Args().First())
				// Cleanup shims run `delete --force` after a failed create:
				// a container that is already gone is success for them.
				if force {
					return nil
				}
			}
			return err
		}
		return c.Delete(force)
	},
}

// removeLeftoverDir removes the state directory of a container whose create
// was aborted before its state was written, which Load reports as missing.
// The id is checked to be a single path element so that it can only name
// a directory directly inside root.
func removeLeftoverDir(root, id string) {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id {
		return
	}
	dir := filepath.Join(root, id)
	if err := os.RemoveAll(dir); err != nil {
		logWarnf("remove %s: %v", dir, err)
	}
}
