package main

import (
	"context"
	"github.com/urfave/cli/v3"
)

// Flags shared by create and run.
var (
	bundleFlag        = &cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", Usage: "path to the root of the bundle directory, defaults to the current directory"}
	consoleSocketFlag = &cli.StringFlag{Name: "console-socket", Value: "", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"}
	pidFileFlag       = &cli.StringFlag{Name: "pid-file", Value: "", Usage: "specify the file to write the process id to"}
	noPivotFlag       = &cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk"}
	noNewKeyringFlag  = &cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container.  This will cause the container to inherit the calling processes session key"}
	preserveFdsFlag   = &cli.UintFlag{Name: "preserve-fds", Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"}
)

var createCommand = &cli.Command{
	Name:  "create",
	Usage: "create a container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.`,
	Description: `The create command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem.

The container's init process is left waiting for "husk start".`,
	Flags: []cli.Flag{bundleFlag, consoleSocketFlag, pidFileFlag, noPivotFlag, noNewKeyringFlag, preserveFdsFlag},
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, exactArgs); err != nil {
			return err
		}
		c, err := createContainer(cmd, cmd.Args().First(), true, false)
		if err != nil {
			return err
		}
		if path := cmd.String("pid-file"); path != "" {
			if err := writePidFile(path, c.Pid()); err != nil {
				destroy(c)
				return err
			}
		}
		return nil
	},
}
