package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/libcontainer"
)

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "lists containers started by husk with the given root",
	ArgsUsage: `

Where the given root is specified via the global option "--root"
(default: "/run/husk").

EXAMPLE 1:
To list containers created via the default "--root":
       # husk list

EXAMPLE 2:
To list containers created using a non-default value for "--root":
       # husk --root value list`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `select one of: table or json (default: "table")`},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
	},
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 0, exactArgs); err != nil {
			return err
		}
		format := cmd.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("invalid --format %q: must be table or json", format)
		}
		root := stateRoot(cmd)
		ids, err := libcontainer.List(root)
		if err != nil {
			return err
		}
		if cmd.Bool("quiet") {
			for _, id := range ids {
				fmt.Println(id)
			}
			return nil
		}
		states, err := loadStates(root, ids)
		if err != nil {
			return err
		}
		if format == "json" {
			return json.NewEncoder(os.Stdout).Encode(states)
		}
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range states {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n",
				s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		return w.Flush()
	},
}

// loadStates returns the states of the containers ids, skipping those
// deleted since List read the directory. The result is nil when there are
// none, which the JSON format prints as null, as runc does.
func loadStates(root string, ids []string) ([]*libcontainer.State, error) {
	var states []*libcontainer.State
	for _, id := range ids {
		c, err := libcontainer.Load(root, id)
		if err != nil {
			if errors.Is(err, libcontainer.ErrNotExist) {
				continue
			}
			return nil, err
		}
		st, err := c.State()
		if err != nil {
			if errors.Is(err, libcontainer.ErrNotExist) {
				continue
			}
			return nil, err
		}
		st.Owner = c.Owner()
		states = append(states, st)
	}
	return states, nil
}
