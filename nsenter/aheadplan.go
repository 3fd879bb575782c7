package nsenter

// #include <stdlib.h>
// #include "aheadplan.h"
import "C"

import (
	"sync"
	"unsafe"
)

// planMu serializes PlanAhead: the C planner is not reentrant.
var planMu sync.Mutex

// AheadPlan is the container part of a new container's init plan as husk's
// constructor computes it in C from config.json (nsenter/aheadplan.c),
// before husk's Go runtime has started, and the cgroup directories it
// makes for the process the stage sets up with it.
type AheadPlan struct {
	// Plan is the plan's magic and its container records (INIT through
	// NOPIVOT, see execplan.h): libcontainer's encodeInitPlan for the
	// same config, up to its process records.
	Plan []byte
	// Dirs are the cgroup's directories, as cgroups/fs.Manager.Dirs.
	Dirs []string
	// Flags are the CLONE_NEW* flags of the config's namespaces.
	Flags int
}

// AheadPlanInput is what besides config.json the plan depends on: the
// command line's part and the host's.
type AheadPlanInput struct {
	Bundle, ID   string
	Mountinfo    []byte // this process's /proc/self/mountinfo
	NoNewKeyring bool
	NoPivot      bool
	Kcore        bool // the host has /proc/kcore
}

// PlanAhead computes the plan the stage would from config (see AheadPlan),
// or returns why it does not: a config it does not read the way create
// does. It is the stage's own code, for tests that hold it to create's.
func PlanAhead(config []byte, in AheadPlanInput) (*AheadPlan, string) {
	planMu.Lock()
	defer planMu.Unlock()
	cfg := C.CBytes(config) // decoded in place
	defer C.free(cfg)
	bundle, id := C.CString(in.Bundle), C.CString(in.ID)
	defer C.free(unsafe.Pointer(bundle))
	defer C.free(unsafe.Pointer(id))
	mi := C.CBytes(append(in.Mountinfo, 0))
	defer C.free(mi)
	cin := C.struct_husk_ahead_in{
		config:         (*C.char)(cfg),
		config_len:     C.size_t(len(config)),
		bundle:         bundle,
		id:             id,
		mountinfo:      (*C.char)(mi),
		mountinfo_len:  C.size_t(len(in.Mountinfo)),
		no_new_keyring: cbool(in.NoNewKeyring),
		no_pivot:       cbool(in.NoPivot),
		kcore:          cbool(in.Kcore),
	}
	var out C.struct_husk_ahead_plan
	if C.husk_plan_ahead(&cin, &out) != 0 {
		return nil, C.GoString(out.reason)
	}
	defer C.husk_plan_ahead_free(&out)
	p := &AheadPlan{
		Plan:  C.GoBytes(unsafe.Pointer(out.plan), C.int(out.len)),
		Flags: int(out.flags),
	}
	for _, d := range unsafe.Slice(out.dirs, out.ndirs) {
		p.Dirs = append(p.Dirs, C.GoString(d))
	}
	return p, ""
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
