package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// parsed is what a subcommand saw of its command line.
type parsed struct {
	args []string
	cmd  *cli.Command
}

// runCLI runs husk's command line with args (without the program name),
// with the Action of sub replaced by one that records what it was given
// instead of touching any container. It returns the record (nil when the
// action did not run), Run's error and what the CLI printed.
func runCLI(t *testing.T, sub *cli.Command, args ...string) (*parsed, error, string) {
	t.Helper()
	var got *parsed
	action := sub.Action
	t.Cleanup(func() { sub.Action = action })
	sub.Action = func(_ context.Context, cmd *cli.Command) error {
		got = &parsed{args: cmd.Args().Slice(), cmd: cmd}
		return nil
	}
	var out bytes.Buffer
	app := newApp()
	app.Writer = &out
	app.ErrWriter = &out
	// Subcommands keep the writers of the first run in this process.
	for _, c := range app.Commands {
		c.Writer = &out
		c.ErrWriter = &out
	}
	err := app.Run(context.Background(), append([]string{"husk"}, args...))
	return got, err, out.String()
}

func TestExecArgsAfterIDBelongToTheCommand(t *testing.T) {
	root := t.TempDir()
	got, err, out := runCLI(t, execCommand, "--root", root, "--log-format", "text",
		"exec", "-e", "A=1,2", "--env", "B=x", "-c", "CAP_CHOWN", "--cap", "CAP_KILL",
		"-g", "5", "-t", "-d", "--preserve-fds", "2", "ctr", "sh", "-c", "echo -t --tty")
	if err != nil {
		t.Fatalf("exec: %v (output %q)", err, out)
	}
	if got == nil {
		t.Fatal("exec's action did not run")
	}
	if want := []string{"ctr", "sh", "-c", "echo -t --tty"}; !slices.Equal(got.args, want) {
		t.Errorf("args = %q, want %q", got.args, want)
	}
	c := got.cmd
	if env := c.StringSlice("env"); !slices.Equal(env, []string{"A=1,2", "B=x"}) {
		t.Errorf("--env = %q, want one item per flag, commas kept", env)
	}
	if caps := c.StringSlice("cap"); !slices.Equal(caps, []string{"CAP_CHOWN", "CAP_KILL"}) {
		t.Errorf("--cap = %q", caps)
	}
	if g := c.StringSlice("additional-gids"); !slices.Equal(g, []string{"5"}) {
		t.Errorf("--additional-gids = %q", g)
	}
	if !c.Bool("tty") || !c.Bool("detach") {
		t.Errorf("--tty %v --detach %v, want both set", c.Bool("tty"), c.Bool("detach"))
	}
	if n := c.Uint("preserve-fds"); n != 2 {
		t.Errorf("--preserve-fds = %d, want 2", n)
	}
	if r := stateRoot(c); r != root {
		t.Errorf("stateRoot = %q, want %q", r, root)
	}
}

func TestPsOptionsAfterIDGoToPs(t *testing.T) {
	got, err, out := runCLI(t, psCommand, "--root", t.TempDir(), "ps", "ctr", "-o", "pid,args")
	if err != nil || got == nil {
		t.Fatalf("ps: ran %v, err %v (output %q)", got != nil, err, out)
	}
	if want := []string{"ctr", "-o", "pid,args"}; !slices.Equal(got.args, want) {
		t.Errorf("args = %q, want %q", got.args, want)
	}
	if f := got.cmd.String("format"); f != "table" {
		t.Errorf("--format = %q, want the default table", f)
	}
}

func TestFlagsAfterIDAndPositionalSignal(t *testing.T) {
	got, err, out := runCLI(t, killCommand, "--root", t.TempDir(), "kill", "ctr", "KILL", "-a")
	if err != nil || got == nil {
		t.Fatalf("kill: ran %v, err %v (output %q)", got != nil, err, out)
	}
	if want := []string{"ctr", "KILL"}; !slices.Equal(got.args, want) {
		t.Errorf("args = %q, want %q", got.args, want)
	}
	if !got.cmd.Bool("all") {
		t.Error("--all given after the id was not set")
	}

	got, err, out = runCLI(t, createCommand, "--root", "rel", "create", "ctr", "-b", "/b", "--pid-file=/p")
	if err != nil || got == nil {
		t.Fatalf("create: ran %v, err %v (output %q)", got != nil, err, out)
	}
	if got.cmd.String("bundle") != "/b" || got.cmd.String("pid-file") != "/p" {
		t.Errorf("--bundle %q --pid-file %q", got.cmd.String("bundle"), got.cmd.String("pid-file"))
	}
	if r := stateRoot(got.cmd); !filepath.IsAbs(r) || filepath.Base(r) != "rel" {
		t.Errorf("stateRoot = %q, want --root made absolute", r)
	}
}

func TestUsageErrorsAreReturnedWithoutHelp(t *testing.T) {
	for _, args := range [][]string{
		{"create", "--bogus", "ctr"},
		{"--bogus", "list"},
		// Global flags go before the subcommand, as with runc.
		{"create", "--root", "/x", "ctr"},
		{"exec", "--preserve-fds", "x", "ctr", "true"},
	} {
		got, err, out := runCLI(t, createCommand, args...)
		if err == nil {
			t.Errorf("%q: no error", args)
		}
		if got != nil {
			t.Errorf("%q: the action ran", args)
		}
		if strings.Contains(out, "USAGE") {
			t.Errorf("%q: printed help: %q", args, out)
		}
	}
}

func TestHelpArgumentIsAContainerID(t *testing.T) {
	got, err, out := runCLI(t, runCommand, "--root", t.TempDir(), "run", "help")
	if err != nil || got == nil {
		t.Fatalf("run help: ran %v, err %v (output %q)", got != nil, err, out)
	}
	if !slices.Equal(got.args, []string{"help"}) {
		t.Errorf("args = %q, want [help]", got.args)
	}
}

func TestListFlagOnce(t *testing.T) {
	stringify := listFlagOnce(cli.FlagStringer)
	s := stringify(&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"})
	if want := "--env string, -e string\tset environment variables"; s != want {
		t.Errorf("got %q, want %q", s, want)
	}
	s = stringify(&cli.StringFlag{Name: "trace", Usage: "write to `FILE`"})
	if want := "--trace FILE\twrite to FILE"; s != want {
		t.Errorf("got %q, want %q", s, want)
	}
}

// Global flags and their values are skipped to find the subcommand, which
// alone is kept; anything else keeps every command.
func TestKeepOnlyInvoked(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // the only command left, or "" for all
	}{
		{[]string{"husk", "state", "x"}, "state"},
		{[]string{"husk", "--root", "/r", "--log", "l.json", "--log-format", "json", "create", "--bundle", "b", "x"}, "create"},
		{[]string{"husk", "--root=/r", "--debug", "--systemd-cgroup", "exec", "x", "true"}, "exec"},
		{[]string{"husk", "-root", "/r", "kill", "x"}, "kill"},
		{[]string{"husk", "--debug", "--trace", "/t.json", "run", "x"}, "run"},
		{[]string{"husk", "--root", "state"}, ""},
		{[]string{"husk", "help", "state"}, ""},
		{[]string{"husk", "--help"}, ""},
		{[]string{"husk", "nosuch"}, ""},
		{[]string{"husk"}, ""},
	} {
		app := newApp()
		all := len(app.Commands)
		keepOnlyInvoked(app, c.args)
		switch {
		case c.want == "" && len(app.Commands) != all:
			t.Errorf("%q: kept %d commands, want all %d", c.args, len(app.Commands), all)
		case c.want != "" && (len(app.Commands) != 1 || app.Commands[0].Name != c.want):
			t.Errorf("%q: kept %v, want only %s", c.args, app.Commands, c.want)
		}
	}
}
