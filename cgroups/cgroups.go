// Package cgroups places containers in control groups and applies their
// resource limits. Manager is the one interface the rest of husk uses; the
// drivers are fs (cgroup v1, including hybrid hosts), fs2 (cgroup v2) and,
// later, systemd.
package cgroups

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FreezerState is the state of a cgroup's freezer.
type FreezerState string

// Freezer states, named as runc names them.
const (
	Undefined FreezerState = ""
	Frozen    FreezerState = "FROZEN"
	Thawed    FreezerState = "THAWED"
)

// Manager controls one container's cgroup.
//
// A Manager is created from a resolved absolute path (see ResolvePath) and
// can be recreated later from the same path, so a husk command that did not
// create the container can still signal, list or remove it.
type Manager interface {
	// Apply creates the cgroup in every hierarchy it uses and moves pid
	// into it. A pid of -1 only creates the cgroup.
	Apply(pid int) error
	// Set writes the resource limits. It is called after Apply.
	Set(r *specs.LinuxResources) error
	// GetPids returns the PIDs of the processes in the cgroup itself.
	GetPids() ([]int, error)
	// GetAllPids returns the PIDs in the cgroup and all its descendants.
	GetAllPids() ([]int, error)
	// Freeze freezes or thaws every process in the cgroup.
	Freeze(state FreezerState) error
	// FreezerState reports the current freezer state.
	FreezerState() (FreezerState, error)
	// Destroy removes the cgroup (and sub-cgroups husk created) from every
	// hierarchy. Removing a cgroup that does not exist is not an error.
	Destroy() error
	// Path returns the absolute directory of the cgroup in the hierarchy of
	// subsystem ("memory", "pids"..., "" for the unified hierarchy), or ""
	// when the subsystem is not mounted.
	Path(subsystem string) string
	// Exists reports whether the cgroup exists.
	Exists() bool
	// JoinSpec says how a new process can enter the cgroup by itself, once
	// Apply(-1) has created it. See JoinSpec.
	JoinSpec() JoinSpec
}

// EarlyApplier is a Manager whose cgroup can be made in two steps around
// the creation of a process that joins it by itself (JoinSpec).
// ApplyEarly creates the directories the process must find in place when
// it is created: the cgroup2 one (clone3 puts it there) and the v1 memory
// one (whose tasks file the parent opens for it, JoinSpec.LateTasksFile).
// Apply(-1) then creates the others, which the process enters later
// through JoinSpec.TasksFiles, so that they are made while it starts.
type EarlyApplier interface {
	ApplyEarly() error
}

// JoinSpec lets a process that is being created enter the container's
// cgroup by itself, cheaply.
//
// Writing another process's PID to cgroup.procs takes the kernel's global
// cgroup_threadgroup_rwsem for writing, whose first taker waits for an RCU
// grace period: 7-15 ms on this kind of machine, more than everything else
// a container start does. Two ways avoid the lock: a single-threaded
// process writing "0" (itself) to a cgroup v1 "tasks" file, and
// clone3(CLONE_INTO_CGROUP) into a cgroup v2 directory. nsexec.c does both,
// before the Go runtime starts threads.
type JoinSpec struct {
	// TasksFiles are the v1 "tasks" files of the cgroup, one per hierarchy.
	TasksFiles []string
	// Cgroup2Dir is the cgroup v2 directory ("" when none): the unified
	// hierarchy of a hybrid host, or the cgroup on a cgroup v2 host.
	Cgroup2Dir string
	// LateTasksFile is the v1 memory hierarchy's tasks file (not in
	// TasksFiles). The container's process joins it with the thread that
	// execs its program, just before execve. Cgroup v1 charges a page to
	// the memory cgroup of the task that allocated it, so what husk's init
	// allocates (the Go runtime, its heap) stays out of the container's
	// limit and is freed by execve; a container limited to 512 KiB still
	// starts. Until then the process is outside that one hierarchy.
	LateTasksFile string
}
