package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/specconv"
)

const specConfig = "config.json"

var specCommand = &cli.Command{
	Name:      "spec",
	Usage:     "create a new specification file",
	ArgsUsage: "",
	Description: `The spec command creates the new specification file named "` + specConfig + `" for
the bundle.

The spec generated is just a starter file. Editing of the spec is required to
achieve desired results. For example, the newly generated spec includes an args
parameter that is initially set to call the "sh" command when the container is
started. Calling "sh" may work for an ubuntu container or busybox, but will not
work for containers that do not include the "sh" program.

EXAMPLE:
  To run a busybox container:

    mkdir -p bundle/rootfs && cd bundle
    cp /bin/busybox rootfs/ && ln -s busybox rootfs/sh
    husk spec
    husk run container1

The --rootless flag generates a spec for a container run by an unprivileged
user: a user namespace mapping that user to root, and no cgroup limits.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", Usage: "path to the root of the bundle directory"},
		&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
	},
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 0, exactArgs); err != nil {
			return err
		}
		spec := specconv.Example()
		if cmd.Bool("rootless") {
			specconv.ToRootless(spec)
		}
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			return err
		}
		path := filepath.Join(cmd.String("bundle"), specConfig)
		// O_EXCL: an existing config.json, or a symlink planted in its
		// place, is never overwritten.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("File %s exists. Remove it first", specConfig) //nolint:staticcheck // runc's exact message
			}
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	},
}
