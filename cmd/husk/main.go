// Command husk is an OCI container runtime with runc's command line: the
// same subcommands, flags, exit codes, state JSON and log format, so that
// containerd's runc shim, podman/conmon and Docker can run it in runc's
// place.
//
// The commands only parse flags, call libcontainer and print; the runtime
// itself lives in the library.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli"

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

	app := cli.NewApp()
	app.Name = "husk"
	app.Usage = usage
	app.Version = fmt.Sprintf("%s\ncommit: %s\nspec: %s", version, gitCommit, specs.Version)
	cli.VersionPrinter = func(ctx *cli.Context) {
		fmt.Printf("%s version %s\n", ctx.App.Name, ctx.App.Version)
	}
	app.Flags = []cli.Flag{
		cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
		cli.StringFlag{Name: "log", Usage: "set the log file to write husk logs to (default is '/dev/stderr')"},
		cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
		cli.StringFlag{Name: "root", Value: "/run/husk", Usage: "root directory for storage of container state (this should be located in tmpfs)"},
		cli.StringFlag{Name: "criu", Value: "criu", Usage: "accepted for runc compatibility; husk does not checkpoint"},
		cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:husk:434234\""},
		cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
		cli.StringFlag{Name: "trace", Usage: "write a JSON timeline of the command's phases (in husk and in the container's init) to `FILE`"},
	}
	app.Commands = []cli.Command{
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
	}
	app.Before = func(ctx *cli.Context) error {
		// Errors here are fatal at once: urfave/cli would print the whole
		// help text after a Before error.
		if err := setupLog(ctx.GlobalString("log"), ctx.GlobalString("log-format"), ctx.GlobalBool("debug")); err != nil {
			fatal(err)
		}
		switch r := ctx.GlobalString("rootless"); r {
		case "auto", "true", "false":
		default:
			fatal(fmt.Errorf("invalid value %q for --rootless: must be auto, true or false", r))
		}
		if path := ctx.GlobalString("trace"); path != "" {
			startTrace(path)
		}
		root := ctx.GlobalString("root")
		if root == "" {
			fatal(errors.New("--root cannot be empty"))
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			fatal(fmt.Errorf("--root %s: %w", root, err))
		}
		return ctx.GlobalSet("root", abs)
	}
	// Usage errors (unknown flags) are reported through the log like any
	// other error.
	app.OnUsageError = func(ctx *cli.Context, err error, isSubcommand bool) error {
		return err
	}
	if err := app.Run(os.Args); err != nil {
		fatal(err)
	}
	exit(0)
}

// versionCommand prints the same text as --version.
var versionCommand = cli.Command{
	Name:  "version",
	Usage: "print the version",
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0, exactArgs); err != nil {
			return err
		}
		cli.VersionPrinter(ctx)
		return nil
	},
}
