package fs

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/husk-runtime/husk/cgroups/internal/cgfile"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Set writes the limits of r. Only what r sets is written: a nil pointer
// or an empty list leaves the current value alone, so Set also serves
// "husk update".
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if r.Memory != nil {
		if err := m.setMemory(r.Memory); err != nil {
			return err
		}
	}
	if r.CPU != nil {
		if err := m.setCPU(r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit != 0 {
		dir, err := m.need("pids")
		if err != nil {
			return err
		}
		v := "max"
		if *r.Pids.Limit > 0 {
			v = cgfile.Int(*r.Pids.Limit)
		}
		if err := cgfile.Write(dir, "pids.max", v); err != nil {
			return err
		}
	}
	if r.BlockIO != nil {
		if err := m.setBlkio(r.BlockIO); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := m.setHugetlb(r.HugepageLimits); err != nil {
			return err
		}
	}
	if r.Network != nil {
		if err := m.setNetwork(r.Network); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		if err := m.setDevices(r.Devices); err != nil {
			return err
		}
	}
	if len(r.Rdma) > 0 {
		dir, err := m.need("rdma")
		if err != nil {
			return err
		}
		if err := cgfile.SetRdma(dir, r.Rdma); err != nil {
			return err
		}
	}
	if len(r.Unified) > 0 {
		if m.unifiedDir == "" {
			return errors.New("set unified resources: no cgroup2 hierarchy is mounted")
		}
		for k, v := range r.Unified {
			if err := cgfile.CheckUnifiedKey(k); err != nil {
				return err
			}
			if err := cgfile.Write(m.unifiedDir, k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// need returns the container's directory in the subsystem's hierarchy, or
// an error saying a requested limit cannot be set.
func (m *Manager) need(subsystem string) (string, error) {
	if d, ok := m.bySubsystem[subsystem]; ok {
		return d, nil
	}
	return "", fmt.Errorf("set %s limits: the %s cgroup hierarchy is not mounted", subsystem, subsystem)
}

// unlimited reads back as the largest page-aligned value, not -1.
func readLimit(dir, file string) (uint64, error) {
	s, err := cgfile.ReadTrim(dir, file)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s/%s: %w", dir, file, err)
	}
	return v, nil
}

// asLimit orders a spec limit against a kernel one: -1 is unlimited.
func asLimit(v int64) uint64 {
	if v < 0 {
		return math.MaxUint64
	}
	return uint64(v)
}

func (m *Manager) setMemory(mem *specs.LinuxMemory) error {
	dir, err := m.need("memory")
	if err != nil {
		return err
	}
	const (
		limitFile = "memory.limit_in_bytes"
		memswFile = "memory.memsw.limit_in_bytes"
	)
	// As in runc, 0 means "not set" for the limits: clients such as
	// "docker update" send 0 for what they leave unchanged, and a real
	// limit of 0 bytes would only get the container killed.
	limit, swap := nonZero(mem.Limit), nonZero(mem.Swap)
	if limit != nil && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && *limit > 0 {
		usage, err := readLimit(dir, "memory.usage_in_bytes")
		if err != nil {
			return err
		}
		if uint64(*limit) < usage {
			return fmt.Errorf("set memory limit %d for %s: lower than the current usage %d", *limit, dir, usage)
		}
	}
	// The kernel requires memory.limit_in_bytes <= memory.memsw.limit_in_bytes
	// at every step. An unlimited memory limit with no swap limit means
	// "unlimited swap too", or the write would fail against an old memsw.
	if limit != nil && *limit == -1 && swap == nil {
		if _, err := cgfile.Read(dir, memswFile); err == nil {
			unlimited := int64(-1)
			swap = &unlimited
		}
	}
	switch {
	case limit != nil && swap != nil:
		curSwap, err := readLimit(dir, memswFile)
		if err != nil {
			return err
		}
		// Lowering: the memory limit first, so it stays below memsw.
		// Raising: memsw first, so the new memory limit fits under it.
		first, second := memswFile, limitFile
		firstV, secondV := *swap, *limit
		if asLimit(*limit) <= curSwap {
			first, second = limitFile, memswFile
			firstV, secondV = *limit, *swap
		}
		if err := cgfile.Write(dir, first, cgfile.Int(firstV)); err != nil {
			return err
		}
		if err := cgfile.Write(dir, second, cgfile.Int(secondV)); err != nil {
			return err
		}
	case limit != nil:
		if err := cgfile.Write(dir, limitFile, cgfile.Int(*limit)); err != nil {
			return err
		}
	case swap != nil:
		if err := cgfile.Write(dir, memswFile, cgfile.Int(*swap)); err != nil {
			return err
		}
	}
	if mem.Reservation != nil && *mem.Reservation != 0 {
		if err := cgfile.Write(dir, "memory.soft_limit_in_bytes", cgfile.Int(*mem.Reservation)); err != nil {
			return err
		}
	}
	// mem.Kernel is ignored: kernel memory limits are gone since Linux 5.4
	// (the file refuses writes on current kernels), as the spec allows.
	if mem.KernelTCP != nil {
		if err := cgfile.Write(dir, "memory.kmem.tcp.limit_in_bytes", cgfile.Int(*mem.KernelTCP)); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil {
		if *mem.Swappiness > 100 {
			return fmt.Errorf("invalid memory swappiness %d: must be 0 to 100", *mem.Swappiness)
		}
		if err := cgfile.Write(dir, "memory.swappiness", cgfile.Uint(*mem.Swappiness)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil {
		if err := cgfile.Write(dir, "memory.oom_control", boolFlag(*mem.DisableOOMKiller)); err != nil {
			return err
		}
	}
	if mem.UseHierarchy != nil {
		if err := cgfile.Write(dir, "memory.use_hierarchy", boolFlag(*mem.UseHierarchy)); err != nil {
			return err
		}
	}
	return nil
}

func nonZero(p *int64) *int64 {
	if p == nil || *p == 0 {
		return nil
	}
	return p
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (m *Manager) setCPU(cpu *specs.LinuxCPU) error {
	if cpu.Cpus != "" || cpu.Mems != "" {
		dir, err := m.need("cpuset")
		if err != nil {
			return err
		}
		if cpu.Cpus != "" {
			if err := cgfile.Write(dir, "cpuset.cpus", cpu.Cpus); err != nil {
				return err
			}
		}
		if cpu.Mems != "" {
			if err := cgfile.Write(dir, "cpuset.mems", cpu.Mems); err != nil {
				return err
			}
		}
	}
	if cpu.Shares == nil && cpu.Quota == nil && cpu.Period == nil && cpu.Burst == nil &&
		cpu.RealtimeRuntime == nil && cpu.RealtimePeriod == nil && cpu.Idle == nil {
		return nil
	}
	dir, err := m.need("cpu")
	if err != nil {
		return err
	}
	if cpu.Shares != nil && *cpu.Shares != 0 {
		if err := cgfile.Write(dir, "cpu.shares", cgfile.Uint(*cpu.Shares)); err != nil {
			return err
		}
	}
	if cpu.Period != nil && *cpu.Period != 0 {
		if err := cgfile.Write(dir, "cpu.cfs_period_us", cgfile.Uint(*cpu.Period)); err != nil {
			return err
		}
	}
	if cpu.Quota != nil && *cpu.Quota != 0 {
		err := cgfile.Write(dir, "cpu.cfs_quota_us", cgfile.Int(*cpu.Quota))
		// The kernel refuses a quota below the current burst: lower the
		// burst first, then retry.
		if errors.Is(err, unix.EINVAL) && cpu.Burst != nil {
			if err := cgfile.Write(dir, "cpu.cfs_burst_us", cgfile.Uint(*cpu.Burst)); err != nil {
				return err
			}
			err = cgfile.Write(dir, "cpu.cfs_quota_us", cgfile.Int(*cpu.Quota))
		}
		if err != nil {
			return err
		}
	}
	if cpu.Burst != nil {
		if err := cgfile.Write(dir, "cpu.cfs_burst_us", cgfile.Uint(*cpu.Burst)); err != nil {
			return err
		}
	}
	if cpu.RealtimePeriod != nil && *cpu.RealtimePeriod != 0 {
		err := cgfile.Write(dir, "cpu.rt_period_us", cgfile.Uint(*cpu.RealtimePeriod))
		// A period below the current runtime is refused: set the runtime
		// first, then retry.
		if errors.Is(err, unix.EINVAL) && cpu.RealtimeRuntime != nil {
			if err := cgfile.Write(dir, "cpu.rt_runtime_us", cgfile.Int(*cpu.RealtimeRuntime)); err != nil {
				return err
			}
			err = cgfile.Write(dir, "cpu.rt_period_us", cgfile.Uint(*cpu.RealtimePeriod))
		}
		if err != nil {
			return err
		}
	}
	if cpu.RealtimeRuntime != nil && *cpu.RealtimeRuntime != 0 {
		if err := cgfile.Write(dir, "cpu.rt_runtime_us", cgfile.Int(*cpu.RealtimeRuntime)); err != nil {
			return err
		}
	}
	if cpu.Idle != nil {
		if err := cgfile.Write(dir, "cpu.idle", cgfile.Int(*cpu.Idle)); err != nil {
			return err
		}
	}
	return nil
}

// writeFallback writes to file, or to alt when file does not exist: the
// CFQ weight files are gone with CFQ, BFQ offers blkio.bfq.* instead.
func writeFallback(dir, file, alt, value string) error {
	err := cgfile.Write(dir, file, value)
	if errors.Is(err, unix.ENOENT) {
		if err2 := cgfile.Write(dir, alt, value); !errors.Is(err2, unix.ENOENT) {
			return err2
		}
	}
	return err
}

func (m *Manager) setBlkio(b *specs.LinuxBlockIO) error {
	if b.Weight == nil && b.LeafWeight == nil && len(b.WeightDevice) == 0 &&
		len(b.ThrottleReadBpsDevice) == 0 && len(b.ThrottleWriteBpsDevice) == 0 &&
		len(b.ThrottleReadIOPSDevice) == 0 && len(b.ThrottleWriteIOPSDevice) == 0 {
		return nil
	}
	dir, err := m.need("blkio")
	if err != nil {
		return err
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := writeFallback(dir, "blkio.weight", "blkio.bfq.weight", strconv.Itoa(int(*b.Weight))); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := cgfile.Write(dir, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		dev := strconv.FormatInt(wd.Major, 10) + ":" + strconv.FormatInt(wd.Minor, 10) + " "
		if wd.Weight != nil {
			if err := writeFallback(dir, "blkio.weight_device", "blkio.bfq.weight_device", dev+strconv.Itoa(int(*wd.Weight))); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := cgfile.Write(dir, "blkio.leaf_weight_device", dev+strconv.Itoa(int(*wd.LeafWeight))); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			v := strconv.FormatInt(d.Major, 10) + ":" + strconv.FormatInt(d.Minor, 10) + " " + cgfile.Uint(d.Rate)
			if err := cgfile.Write(dir, t.file, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// setHugetlb writes the hugepage limits to the hierarchy that has the
// hugetlb controller: a v1 one, or on a hybrid host the cgroup2 one. There
// the controller must be enabled in the subtree_control of every ancestor
// of the container; husk enables it only in the ancestors its own Apply
// created, never in the unified root or another existing cgroup (they
// belong to the system or to whoever made them), and otherwise fails
// naming the file the administrator must change.
// Reservation limits (rsvd) are set too where the kernel has them, as the
// spec prefers them.
func (m *Manager) setHugetlb(limits []specs.LinuxHugepageLimit) error {
	for _, l := range limits {
		if err := cgfile.CheckHugePageSize(l.Pagesize); err != nil {
			return err
		}
	}
	dir, v1 := m.bySubsystem["hugetlb"]
	suffix, rsvdSuffix := ".max", ".rsvd.max"
	if v1 {
		suffix, rsvdSuffix = ".limit_in_bytes", ".rsvd.limit_in_bytes"
	} else {
		if m.unified == nil {
			return errors.New("set hugetlb limits: no hierarchy offers the hugetlb controller")
		}
		avail, err := cgfile.Read(m.unified.mountpoint, "cgroup.controllers")
		if err != nil {
			return err
		}
		if !cgfile.HasWord(avail, "hugetlb") {
			return errors.New("set hugetlb limits: no hierarchy offers the hugetlb controller")
		}
		dir = m.unifiedDir
		if err := cgfile.EnableController(m.unified.mountpoint, dir, "hugetlb", m.unifiedCreated); err != nil {
			return err
		}
	}
	for _, l := range limits {
		v := cgfile.Uint(l.Limit)
		if err := cgfile.Write(dir, "hugetlb."+l.Pagesize+suffix, v); err != nil {
			return err
		}
		if err := cgfile.Write(dir, "hugetlb."+l.Pagesize+rsvdSuffix, v); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return nil
}

// setNetwork sets the class ID and interface priorities where net_cls and
// net_prio are mounted; many hosts mount neither, and the limits only
// matter to traffic control rules that would need them, so their absence
// is not an error.
func (m *Manager) setNetwork(n *specs.LinuxNetwork) error {
	if dir, ok := m.bySubsystem["net_cls"]; ok && n.ClassID != nil {
		if err := cgfile.Write(dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if dir, ok := m.bySubsystem["net_prio"]; ok {
		for _, p := range n.Priorities {
			if err := cgfile.Write(dir, "net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setDevices writes the rules in order, each to devices.allow or
// devices.deny, so the kernel's list ends up as the spec's rules describe
// it (typically "deny all" followed by the allowed devices).
func (m *Manager) setDevices(rules []specs.LinuxDeviceCgroup) error {
	dir, err := m.need("devices")
	if err != nil {
		return err
	}
	// Each file is opened once for all its rules (~10 allow rules for
	// the default devices): a write is one rule.
	var files [2]*cgfile.File // deny, allow
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for _, r := range rules {
		rule, err := cgfile.DeviceRule(r.Type, r.Major, r.Minor, r.Access)
		if err != nil {
			return err
		}
		i, name := 0, "devices.deny"
		if r.Allow {
			i, name = 1, "devices.allow"
		}
		if files[i] == nil {
			if files[i], err = cgfile.OpenWrite(dir, name); err != nil {
				return &cgfile.WriteError{Path: dir + "/" + name, Value: rule, Err: err}
			}
		}
		if err := files[i].Write(rule); err != nil {
			return err
		}
	}
	return nil
}
