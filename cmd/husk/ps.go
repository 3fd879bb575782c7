package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "ps displays the processes running inside a container",
	ArgsUsage: `<container-id> [ps options]`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `select one of: table or json (default: "table")`},
	},
	// Flags end at the container id: everything after it belongs to ps(1),
	// e.g. `husk ps ID -o pid,comm`.
	StopOnNthArg: &afterID,
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, minArgs); err != nil {
			return err
		}
		format := cmd.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("invalid --format %q: must be table or json", format)
		}
		c, err := getContainer(cmd)
		if err != nil {
			return err
		}
		pids, err := c.Processes()
		if err != nil {
			return err
		}
		if format == "json" {
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(os.Stdout).Encode(pids)
		}
		psArgs := cmd.Args().Slice()[1:]
		if len(psArgs) == 0 {
			psArgs = []string{"-ef"}
		}
		out, err := exec.Command("ps", psArgs...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("run ps %s: %w: %s", strings.Join(psArgs, " "), err, out)
		}
		filtered, err := filterPsOutput(string(out), pids)
		if err != nil {
			return err
		}
		_, err = os.Stdout.WriteString(filtered)
		return err
	},
}

// filterPsOutput keeps the header of ps(1) output and the lines whose PID
// column holds one of pids.
func filterPsOutput(out string, pids []int) (string, error) {
	lines := strings.Split(out, "\n")
	pidCol := -1
	for i, name := range strings.Fields(lines[0]) {
		if name == "PID" {
			pidCol = i
			break
		}
	}
	if pidCol < 0 {
		return "", errors.New("couldn't find PID field in ps output")
	}
	in := make(map[int]bool, len(pids))
	for _, p := range pids {
		in[p] = true
	}
	var b strings.Builder
	b.WriteString(lines[0])
	b.WriteByte('\n')
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= pidCol {
			continue
		}
		p, err := strconv.Atoi(fields[pidCol])
		if err != nil {
			return "", fmt.Errorf("parse pid %q in ps output: %w", fields[pidCol], err)
		}
		if in[p] {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}
