package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer"
	"github.com/husk-runtime/husk/libcontainer/caps"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"github.com/husk-runtime/husk/specconv"
)

var execCommand = &cli.Command{
	Name:  "exec",
	Usage: "execute new process inside the container",
	ArgsUsage: `<container-id> <command> [command options]  || -p process.json <container-id>

Where "<container-id>" is the name for the instance of the container and
"<command>" is the command to be executed in the container.
"<command>" can't be empty unless a "-p" flag provided.

EXAMPLE:
For example, if the container is configured to run the linux ps command the
following will output a list of processes running in the container:

       # husk exec <container-id> ps`,
	Description: `The exec command starts a new process in a running container: it joins
every namespace and the cgroup of the container's init, and gets the
container's process settings (env, cwd, user, capabilities, rlimits, LSM
labels, no_new_privs, seccomp) changed by the flags, or exactly the
runtime-spec process object given with --process ("-" reads it from stdin).

Unless --detach is given, husk forwards the signals it receives to the
process, relays the terminal with --tty, and exits with the process's exit
status (128+N when signal N killed it).`,
	Flags: []cli.Flag{
		consoleSocketFlag,
		&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
		&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		pidFileFlag,
		&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
		&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
		preserveFdsFlag,
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
	},
	// Flags end at the container id: everything after it is the command
	// and its arguments, so `exec ID sh -c ...` does not read -c as --cap.
	StopOnNthArg: &afterID,
	Action: func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, minArgs); err != nil {
			return err
		}
		code, err := execProcess(cmd)
		if err != nil {
			return err
		}
		if code != 0 {
			exit(code)
		}
		return nil
	},
}

// execProcess starts the process and, in the foreground, relays signals
// and the terminal until it exits. It returns the process's exit code.
func execProcess(cmd *cli.Command) (int, error) {
	libcontainer.PrepareSpawn()
	c, err := getContainer(cmd)
	if err != nil {
		return -1, err
	}
	p, err := execConfig(cmd, c.Process())
	if err != nil {
		return -1, err
	}
	detach := cmd.Bool("detach")
	consoleSocket := cmd.String("console-socket")
	if consoleSocket != "" {
		if consoleSocket, err = filepath.Abs(consoleSocket); err != nil {
			return -1, fmt.Errorf("console socket path: %w", err)
		}
	}
	if p.Terminal && detach && consoleSocket == "" {
		return -1, errors.New("cannot allocate tty if husk will detach without setting console socket")
	}
	if !p.Terminal && consoleSocket != "" {
		return -1, errors.New("cannot use console socket if husk will not allocate tty")
	}
	opts := &libcontainer.ExecOpts{
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
		ConsoleSocket: consoleSocket,
		IgnorePaused:  cmd.Bool("ignore-paused"),
	}
	if opts.SubCgroup, err = subCgroup(cmd.StringSlice("cgroup")); err != nil {
		return -1, err
	}
	// --preserve-fds N hands the caller's fds 3..3+N-1 to the process
	// unchanged, at the same numbers.
	for i := uint(0); i < cmd.Uint("preserve-fds"); i++ {
		fd := 3 + i
		opts.ExtraFiles = append(opts.ExtraFiles, os.NewFile(uintptr(fd), fmt.Sprintf("preserved fd %d", fd)))
	}

	var sigc *signalSub
	if !detach {
		if sigc, err = subscribeSignals(); err != nil {
			return -1, err
		}
	}
	proc, err := c.Exec(p, opts)
	if err != nil {
		return -1, err
	}
	logDebugf("exec'd process %d in container %s", proc.Pid(), c.ID())
	var tty *ttyRelay
	if master := proc.Console(); master != nil {
		if tty, err = newTTYRelay(master); err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return -1, err
		}
	}
	if path := cmd.String("pid-file"); path != "" {
		if err := writePidFile(path, proc.Pid()); err != nil {
			tty.restore()
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return -1, err
		}
	}
	if detach {
		return 0, nil
	}
	code, err := forwardSignals(sigc, tty, fmt.Sprintf("process %d", proc.Pid()), proc.Pid(), proc.Signal, proc.Wait)
	// The pty's output ends once every process holding its slave is gone;
	// wait for it so that the process's last words reach the caller.
	tty.drain()
	tty.restore()
	if err != nil {
		return -1, err
	}
	return code, nil
}

// execConfig builds the process to exec: the --process object, or the
// container's own process changed by the flags, as runc's exec does.
func execConfig(cmd *cli.Command, base *configs.Process) (*configs.Process, error) {
	if path := cmd.String("process"); path != "" {
		if cmd.NArg() > 1 {
			return nil, errors.New("exec: give the command either in --process or on the command line, not both")
		}
		return processFromFile(path, base)
	}
	if cmd.NArg() < 2 {
		return nil, errors.New("exec: no command given: pass it after the container id, or use --process")
	}
	if base == nil {
		return nil, errors.New("exec: the container's config has no process to start from")
	}
	p := copyProcess(base)
	p.Args = append([]string(nil), cmd.Args().Slice()[1:]...)
	// Size is the caller's business: the relay sets it from the caller's
	// terminal, a console socket's owner through the pty master.
	p.Terminal = cmd.Bool("tty")
	p.ConsoleSize = nil
	if cwd := cmd.String("cwd"); cwd != "" {
		if !filepath.IsAbs(cwd) {
			return nil, fmt.Errorf("--cwd %q: must be an absolute path", cwd)
		}
		p.Cwd = cwd
	}
	env, err := mergeEnv(p.Env, cmd.StringSlice("env"))
	if err != nil {
		return nil, err
	}
	p.Env = env
	if u := cmd.String("user"); u != "" {
		if p.UID, p.GID, err = parseUser(u, p.GID); err != nil {
			return nil, err
		}
	}
	for _, g := range cmd.StringSlice("additional-gids") {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a gid (a number between 0 and %d)", g, uint32(1<<32-1))
		}
		p.AdditionalGids = append(p.AdditionalGids, uint32(gid))
	}
	if l := cmd.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if a := cmd.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	if cmd.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if err := addCaps(p, cmd.StringSlice("cap")); err != nil {
		return nil, err
	}
	return p, nil
}

// processFromFile reads a runtime-spec process object from path ("-":
// stdin) and converts it with specconv's checks. What the object leaves
// unset comes from the container's process: capabilities, rlimits, LSM
// labels, umask and oom_score_adj, as runc does, so that a short process
// object does not run with more privilege or fewer limits than the
// container's init.
func processFromFile(path string, base *configs.Process) (*configs.Process, error) {
	name := path
	var data []byte
	var err error
	if path == "-" {
		name = "process.json (stdin)"
		data, err = io.ReadAll(bufio.NewReader(os.Stdin))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read process %s: %w", name, err)
	}
	sp, err := specconv.DecodeProcess(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p, err := specconv.ConvertProcess(sp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if base == nil {
		return p, nil
	}
	b := copyProcess(base)
	if p.Capabilities == nil {
		p.Capabilities = b.Capabilities
	}
	if len(p.Rlimits) == 0 {
		p.Rlimits = b.Rlimits
	}
	if p.ApparmorProfile == "" {
		p.ApparmorProfile = b.ApparmorProfile
	}
	if p.SelinuxLabel == "" {
		p.SelinuxLabel = b.SelinuxLabel
	}
	if p.Umask == nil {
		p.Umask = b.Umask
	}
	if p.OOMScoreAdj == nil {
		p.OOMScoreAdj = b.OOMScoreAdj
	}
	return p, nil
}

// copyProcess returns a copy of p that shares no slice with it.
func copyProcess(p *configs.Process) *configs.Process {
	c := *p
	c.Args = append([]string(nil), p.Args...)
	c.Env = append([]string(nil), p.Env...)
	c.AdditionalGids = append([]uint32(nil), p.AdditionalGids...)
	c.Rlimits = append([]configs.Rlimit(nil), p.Rlimits...)
	if p.Capabilities != nil {
		pc := p.Capabilities
		c.Capabilities = &configs.Capabilities{
			Bounding:    append([]int(nil), pc.Bounding...),
			Effective:   append([]int(nil), pc.Effective...),
			Inheritable: append([]int(nil), pc.Inheritable...),
			Permitted:   append([]int(nil), pc.Permitted...),
			Ambient:     append([]int(nil), pc.Ambient...),
		}
	}
	return &c
}

// mergeEnv adds the --env NAME=VALUE settings to env; a name already set is
// replaced in place (a duplicate would leave the program's getenv to pick
// one of the two).
func mergeEnv(env, add []string) ([]string, error) {
	for _, kv := range add {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--env %q: want NAME=VALUE", kv)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("--env %q: contains a NUL byte", name)
		}
		replaced := false
		for i, e := range env {
			if strings.HasPrefix(e, name+"=") {
				env[i] = kv
				replaced = true
				break
			}
		}
		if !replaced {
			env = append(env, kv)
		}
	}
	return env, nil
}

// parseUser parses --user <uid>[:<gid>]; without a gid, gid is kept.
func parseUser(u string, gid uint32) (uint32, uint32, error) {
	us, gs, hasGID := strings.Cut(u, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: uid %q is not a number (format: <uid>[:<gid>])", u, us)
	}
	if hasGID {
		g, err := strconv.ParseUint(gs, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("--user %q: gid %q is not a number (format: <uid>[:<gid>])", u, gs)
		}
		gid = uint32(g)
	}
	return uint32(uid), gid, nil
}

// addCaps adds the --cap capabilities to the bounding, effective and
// permitted sets. Never to the inheritable set: inheritable capabilities
// survive an execve of a file with matching file capabilities, so giving
// them to an exec'd process hands privilege to any program it runs
// (CVE-2022-29162). Ambient ones need inheritable ones, so they are only
// added when the container's process already has an inheritable set.
func addCaps(p *configs.Process, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if p.Capabilities == nil {
		p.Capabilities = &configs.Capabilities{}
	}
	c := p.Capabilities
	add := func(set []int, v int) []int {
		for _, x := range set {
			if x == v {
				return set
			}
		}
		return append(set, v)
	}
	for _, name := range names {
		n, err := caps.Parse(name)
		if err != nil {
			return fmt.Errorf("--cap: %w", err)
		}
		c.Bounding = add(c.Bounding, n)
		c.Effective = add(c.Effective, n)
		c.Permitted = add(c.Permitted, n)
		if len(c.Inheritable) > 0 {
			c.Ambient = add(c.Ambient, n)
		}
	}
	return nil
}

// subCgroup turns the --cgroup values into the one sub-cgroup (relative to
// the container's cgroup) the process goes into. Values are "<path>" for
// every controller or "<controller>[,<controller>...]:<path>". husk puts an
// exec'd process in the same sub-cgroup in every hierarchy, so pairs that
// name different paths are refused rather than half honoured.
func subCgroup(values []string) (string, error) {
	sub, from := "", ""
	for _, v := range values {
		ctrls, p, hasCtrl := strings.Cut(v, ":")
		if !hasCtrl {
			p, ctrls = v, ""
		}
		if p == "" {
			return "", fmt.Errorf("--cgroup %q: empty cgroup path", v)
		}
		if hasCtrl {
			for _, ctrl := range strings.Split(ctrls, ",") {
				if err := checkController(ctrl); err != nil {
					return "", fmt.Errorf("--cgroup %q: %w", v, err)
				}
			}
		}
		if sub != "" && p != sub {
			return "", fmt.Errorf("--cgroup: husk runs an exec'd process in one sub-cgroup for all controllers, but %q and %q name different ones", from, v)
		}
		sub, from = p, v
	}
	return sub, nil
}

// checkController checks a --cgroup controller name against the kernel's
// list (/proc/cgroups); "name=<x>" names a named v1 hierarchy.
func checkController(ctrl string) error {
	if ctrl == "" {
		return errors.New("empty controller name")
	}
	if strings.HasPrefix(ctrl, "name=") && len(ctrl) > len("name=") {
		return nil
	}
	data, err := os.ReadFile("/proc/cgroups")
	if err != nil {
		return fmt.Errorf("read /proc/cgroups: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == ctrl {
			return nil
		}
	}
	return fmt.Errorf("unknown cgroup controller %q", ctrl)
}
