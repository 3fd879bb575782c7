// Command husk is an OCI container runtime with runc's command line: the
// same subcommands, flags, exit codes, state JSON and log format, so that
// containerd's runc shim, podman/conmon and Docker can run it in runc's
// place.
//
// The commands only parse flags, call libcontainer and print; the runtime
// itself lives in the library.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/husk-runtime/husk/libcontainer"
	// nsenter's cgo constructor runs before the Go runtime when this binary
	// is re-executed as `husk init`, to enter the container's namespaces
	// while the process is still single-threaded.
	_ "github.com/husk-runtime/husk/nsenter"
)

// Set by the Makefile with -ldflags "-X main.version=... -X main.gitCommit=...".
var (
	version   = "dev"
	gitCommit = "unknown"
)

const usage = `Open Container Initiative runtime

husk is a command line client for running containers packaged according to
the Open Container Initiative (OCI) format, compatible with runc.

Containers are configured using bundles. A bundle for a container is a
directory that includes a specification file named "config.json" and a root
filesystem. The root filesystem contains the contents of the container.

To start a new instance of a container:

    # husk run [ -b bundle ] <container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique
on your host. Providing the bundle directory using "-b" is optional. The
default value for "bundle" is the current directory.`

func main() {
	// The container's init is this binary re-executed as `husk init`. It is
	// dispatched before urfave/cli so that it pays for no flag parsing.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}

	if _, err := restoreStartCPUs(); err != nil {
		fatal(err)
	}

	cli.VersionPrinter = func(cmd *cli.Command) {
		root := cmd.Root()
		fmt.Printf("%s version %s\n", root.Name, root.Version)
	}
	cli.FlagStringer = listFlagOnce(cli.FlagStringer)
	app := newApp()
	keepOnlyInvoked(app, os.Args)
	if err := app.Run(context.Background(), os.Args); err != nil {
		fatal(err)
	}
	exit(0)
}

// keepOnlyInvoked leaves in app only the subcommand args invoke, when it
// names one: urfave/cli sets up (help, flag checks) every command it is
// given on every run, ~0.15 ms here for the dozen others. Anything else
// (no command, an unknown one, `help`) keeps them all, for the help and
// error texts that list them.
func keepOnlyInvoked(app *cli.Command, args []string) {
	name := invokedCommand(app, args)
	for _, c := range app.Commands {
		if c.Name == name {
			app.Commands = []*cli.Command{c}
			return
		}
	}
}

// invokedCommand returns the first argument that is not a global flag or
// a global flag's value, or "".
func invokedCommand(app *cli.Command, args []string) string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return ""
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return a
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if hasValue {
			continue
		}
		for _, f := range app.Flags {
			if slices.Contains(f.Names(), name) {
				if _, isBool := f.(*cli.BoolFlag); !isBool {
					i++ // the flag's value
				}
				break
			}
		}
	}
	return ""
}

// newApp builds husk's command line: runc's global flags and subcommands.
func newApp() *cli.Command {
	app := &cli.Command{
		Name:    "husk",
		Usage:   usage,
		Version: fmt.Sprintf("%s\ncommit: %s\nspec: %s", version, gitCommit, specs.Version),
		// Local: global flags go before the subcommand, as with runc.
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Local: true, Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Local: true, Usage: "set the log file to write husk logs to (default is '/dev/stderr')"},
			&cli.StringFlag{Name: "log-format", Local: true, Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.StringFlag{Name: "root", Local: true, Value: "/run/husk", Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.StringFlag{Name: "criu", Local: true, Value: "criu", Usage: "accepted for runc compatibility; husk does not checkpoint"},
			&cli.BoolFlag{Name: "systemd-cgroup", Local: true, Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:husk:434234\""},
			&cli.StringFlag{Name: "rootless", Local: true, Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
			&cli.StringFlag{Name: "trace", Local: true, Usage: "write a JSON timeline of the command's phases (in husk and in the container's init) to `FILE`"},
		},
		Commands: []*cli.Command{
			createCommand,
			deleteCommand,
			execCommand,
			featuresCommand,
			killCommand,
			listCommand,
			pauseCommand,
			psCommand,
			resumeCommand,
			runCommand,
			specCommand,
			startCommand,
			stateCommand,
			versionCommand,
		},
		Before:       setupGlobal,
		OnUsageError: usageError,
	}
	for _, c := range app.Commands {
		// A subcommand takes no subcommands, so the argument "help" is a
		// container id (`husk run help`), not a request for help; `husk
		// help CMD` and `CMD --help` still show the command's help.
		c.HideHelpCommand = true
		c.OnUsageError = usageError
		// Each --env/--cap/--additional-gids/--cgroup value is one item, as
		// with runc: `-e A=1,2` sets A to "1,2".
		c.DisableSliceFlagSeparator = true
	}
	return app
}

// setupGlobal applies the global flags before any subcommand runs. Its
// errors are fatal at once, reported through the log they may configure.
func setupGlobal(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	if err := setupLog(cmd.String("log"), cmd.String("log-format"), cmd.Bool("debug")); err != nil {
		fatal(err)
	}
	if err := fastPathError(); err != nil {
		fatal(err)
	}
	switch r := cmd.String("rootless"); r {
	case "auto", "true", "false":
	default:
		fatal(fmt.Errorf("invalid value %q for --rootless: must be auto, true or false", r))
	}
	if path := cmd.String("trace"); path != "" {
		startTrace(path)
	}
	root := cmd.String("root")
	if root == "" {
		fatal(errors.New("--root cannot be empty"))
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		fatal(fmt.Errorf("--root %s: %w", root, err))
	}
	return ctx, cmd.Set("root", abs)
}

// listFlagOnce makes help list a repeatable flag's names once, as runc's
// help does: urfave/cli v3 would write "--env string, -e string [ --env
// string, -e string ]", which pushes every description of exec's help past
// the width of a terminal.
func listFlagOnce(stringify cli.FlagStringFunc) cli.FlagStringFunc {
	return func(f cli.Flag) string {
		s := stringify(f)
		names, usage, ok := strings.Cut(s, "\t")
		if !ok {
			return s
		}
		names, _, _ = strings.Cut(names, " [ ")
		return names + "\t" + usage
	}
}

// usageError reports usage errors (unknown flags, bad flag values) through
// the log like any other error, instead of urfave/cli's help text dump.
func usageError(_ context.Context, _ *cli.Command, err error, _ bool) error {
	return err
}

// versionCommand prints the same text as --version.
var versionCommand = &cli.Command{
	Name:  "version",
	Usage: "print the version",
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 0, exactArgs); err != nil {
			return err
		}
		cli.VersionPrinter(cmd)
		return nil
	},
}
