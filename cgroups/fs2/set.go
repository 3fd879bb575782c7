package fs2

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/husk-runtime/husk/cgroups/devices"
	"github.com/husk-runtime/husk/cgroups/internal/cgfile"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Set writes the limits of r, converting the runtime-spec's v1-shaped
// values to their v2 files as runc does. Only what r sets is written (a
// nil pointer leaves the value alone), so Set also serves "husk update".
// Device rules become an eBPF program attached to the cgroup (package
// devices).
// Settings v2 has no file for (memory swappiness, the OOM-killer switch,
// use_hierarchy, blkio leaf weights, net_cls/net_prio) are ignored, as in
// runc.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	// Devices first: a rule error then leaves every limit unchanged.
	if len(r.Devices) > 0 {
		if err := devices.SetFilter(m.dir, r.Devices); err != nil {
			return fmt.Errorf("set device rules: %w", err)
		}
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
		if err := m.write("pids", "pids.max", maxOr(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if r.BlockIO != nil {
		if err := m.setIO(r.BlockIO); err != nil {
			return err
		}
	}
	for _, l := range r.HugepageLimits {
		if err := cgfile.CheckHugePageSize(l.Pagesize); err != nil {
			return err
		}
		v := cgfile.Uint(l.Limit)
		if err := m.write("hugetlb", "hugetlb."+l.Pagesize+".max", v); err != nil {
			return err
		}
		// The spec prefers reservation limits where the kernel has them.
		if err := cgfile.Write(m.dir, "hugetlb."+l.Pagesize+".rsvd.max", v); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	if len(r.Rdma) > 0 {
		if err := cgfile.SetRdma(m.dir, r.Rdma); err != nil {
			return err
		}
	}
	// The unified map comes last, so its keys override the converted
	// values, as the spec says.
	for k, v := range r.Unified {
		if err := cgfile.CheckUnifiedKey(k); err != nil {
			return err
		}
		ctrl, _, _ := strings.Cut(k, ".")
		if err := m.write(ctrl, k, v); err != nil {
			return err
		}
	}
	return nil
}

// write writes a control file; when it does not exist, the error says
// which controller is missing from the cgroup and where to enable it.
func (m *Manager) write(ctrl, file, value string) error {
	err := cgfile.Write(m.dir, file, value)
	if errors.Is(err, unix.ENOENT) && ctrl != "cgroup" {
		return m.missingController(ctrl, err)
	}
	return err
}

// missingController explains err, the failed access to a control file of
// controller ctrl: the hierarchy does not offer the controller, or the
// ancestors that do not enable it (husk enables controllers only in
// cgroups it created, and in existing ones on a pure v2 host).
func (m *Manager) missingController(ctrl string, err error) error {
	if avail, rerr := cgfile.Read(m.root, "cgroup.controllers"); rerr == nil && !cgfile.HasWord(avail, ctrl) {
		return fmt.Errorf("%w (the %s controller is not available in %s)", err, ctrl, m.root)
	}
	if lacking, lerr := cgfile.LackingController(m.root, m.dir, ctrl); lerr == nil && len(lacking) > 0 {
		return fmt.Errorf("%w: %w", cgfile.ControllerError(ctrl, lacking), err)
	}
	return fmt.Errorf("%w (is the %s controller enabled for %s?)", err, ctrl, m.dir)
}

// maxOr formats a v2 limit: negative means "max".
func maxOr(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func (m *Manager) setMemory(mem *specs.LinuxMemory) error {
	var limit, swap int64
	if mem.Limit != nil {
		limit = *mem.Limit
	}
	if mem.Swap != nil {
		swap = *mem.Swap
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && limit > 0 {
		s, err := cgfile.ReadTrim(m.dir, "memory.current")
		if err != nil {
			return err
		}
		if usage, err := strconv.ParseInt(s, 10, 64); err == nil && limit < usage {
			return fmt.Errorf("set memory limit %d for %s: lower than the current usage %d", limit, m.dir, usage)
		}
	}
	v2swap, err := swapToV2(swap, limit)
	if err != nil {
		return err
	}
	// swap.max before max, as runc: the two are independent in v2, but a
	// swap failure should not leave a half-applied memory limit.
	if v2swap != 0 {
		if err := m.write("memory", "memory.swap.max", maxOr(v2swap)); err != nil {
			return err
		}
	}
	if limit != 0 {
		if err := m.write("memory", "memory.max", maxOr(limit)); err != nil {
			return err
		}
	}
	if mem.Reservation != nil && *mem.Reservation != 0 {
		if err := m.write("memory", "memory.low", maxOr(*mem.Reservation)); err != nil {
			return err
		}
	}
	return nil
}

// swapToV2 converts the runtime-spec's swap (a v1 memory+swap limit) into
// memory.swap.max (swap alone). 0 means "leave unchanged", -1 unlimited.
// An unlimited memory limit without a swap limit makes swap unlimited
// too, as v1 requires and runc does.
func swapToV2(swap, limit int64) (int64, error) {
	switch {
	case limit == -1 && swap == 0:
		return -1, nil
	case swap == -1 || swap == 0:
		return swap, nil
	case limit <= 0:
		return 0, fmt.Errorf("invalid memory swap %d: a swap limit needs a memory limit", swap)
	case swap < limit:
		return 0, fmt.Errorf("invalid memory swap %d: memory+swap must not be below the memory limit %d", swap, limit)
	}
	return swap - limit, nil
}

// SharesToWeight converts v1 cpu.shares (2..262144, default 1024) to v2
// cpu.weight (1..10000, default 100) with runc's linear mapping, so the
// same spec gives the same weight under either runtime. 0 stays 0
// ("unset").
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= 2:
		return 1
	case shares >= 262144:
		return 10000
	}
	return 1 + ((shares-2)*9999)/262142
}

// cpuMax returns the cpu.max line ("$QUOTA $PERIOD", QUOTA "max" when
// unlimited) for the spec's quota and period, keeping the current values
// (cur, the file's content) of what is not set. ok is false when neither
// is set.
func cpuMax(quota *int64, period *uint64, cur string) (line string, ok bool) {
	if (quota == nil || *quota == 0) && (period == nil || *period == 0) {
		return "", false
	}
	curQuota, curPeriod, _ := strings.Cut(strings.TrimSpace(cur), " ")
	q := curQuota
	if q == "" {
		q = "max"
	}
	if quota != nil && *quota != 0 {
		q = maxOr(*quota)
	}
	p := curPeriod
	if period != nil && *period != 0 {
		p = strconv.FormatUint(*period, 10)
	}
	if p == "" {
		return q, true
	}
	return q + " " + p, true
}

func (m *Manager) setCPU(cpu *specs.LinuxCPU) error {
	if cpu.RealtimeRuntime != nil && *cpu.RealtimeRuntime != 0 || cpu.RealtimePeriod != nil && *cpu.RealtimePeriod != 0 {
		return errors.New("set cpu limits: realtime runtime and period are not supported on cgroup v2")
	}
	if cpu.Shares != nil && *cpu.Shares != 0 {
		if err := m.write("cpu", "cpu.weight", cgfile.Uint(SharesToWeight(*cpu.Shares))); err != nil {
			return err
		}
	}
	if cpu.Quota != nil || cpu.Period != nil {
		cur := ""
		if cpu.Quota == nil || *cpu.Quota == 0 || cpu.Period == nil || *cpu.Period == 0 {
			s, err := cgfile.Read(m.dir, "cpu.max")
			if err != nil {
				if errors.Is(err, unix.ENOENT) {
					return m.missingController("cpu", err)
				}
				return err
			}
			cur = s
		}
		if line, ok := cpuMax(cpu.Quota, cpu.Period, cur); ok {
			if err := m.write("cpu", "cpu.max", line); err != nil {
				return err
			}
		}
	}
	if cpu.Burst != nil {
		if err := m.write("cpu", "cpu.max.burst", cgfile.Uint(*cpu.Burst)); err != nil {
			return err
		}
	}
	if cpu.Idle != nil {
		if err := m.write("cpu", "cpu.idle", strconv.FormatInt(*cpu.Idle, 10)); err != nil {
			return err
		}
	}
	if cpu.Cpus != "" {
		if err := m.write("cpuset", "cpuset.cpus", cpu.Cpus); err != nil {
			return err
		}
	}
	if cpu.Mems != "" {
		if err := m.write("cpuset", "cpuset.mems", cpu.Mems); err != nil {
			return err
		}
	}
	return nil
}

// BlkioWeightToIOWeight converts a v1 blkio weight (10..1000) to a v2
// io.weight (1..10000) with runc's linear mapping. 0 stays 0 ("unset").
func BlkioWeightToIOWeight(w uint16) uint64 {
	switch {
	case w == 0:
		return 0
	case w <= 10:
		return 1
	case w >= 1000:
		return 10000
	}
	return 1 + (uint64(w)-10)*9999/990
}

// ioMaxLines returns one io.max line per device ("8:0 rbps=1048576
// wiops=100"), merging the spec's four throttle lists. A rate of 0 (no
// limit in v1) becomes "max".
func ioMaxLines(b *specs.LinuxBlockIO) []string {
	type dev struct{ major, minor int64 }
	var order []dev
	limits := map[dev][]string{}
	add := func(key string, list []specs.LinuxThrottleDevice) {
		for _, t := range list {
			d := dev{t.Major, t.Minor}
			if _, ok := limits[d]; !ok {
				order = append(order, d)
			}
			v := "max"
			if t.Rate != 0 {
				v = strconv.FormatUint(t.Rate, 10)
			}
			limits[d] = append(limits[d], key+"="+v)
		}
	}
	add("rbps", b.ThrottleReadBpsDevice)
	add("wbps", b.ThrottleWriteBpsDevice)
	add("riops", b.ThrottleReadIOPSDevice)
	add("wiops", b.ThrottleWriteIOPSDevice)
	lines := make([]string, 0, len(order))
	for _, d := range order {
		lines = append(lines, strconv.FormatInt(d.major, 10)+":"+strconv.FormatInt(d.minor, 10)+" "+strings.Join(limits[d], " "))
	}
	return lines
}

// setIO writes the weights and throttles. With the BFQ scheduler the
// weights go to io.bfq.weight, which takes the v1 range unconverted;
// otherwise to io.weight, converted.
func (m *Manager) setIO(b *specs.LinuxBlockIO) error {
	bfq := false
	if b.Weight != nil || len(b.WeightDevice) > 0 {
		var st unix.Stat_t
		bfq = unix.Stat(m.dir+"/io.bfq.weight", &st) == nil
	}
	weight := func(w uint16) string {
		if bfq {
			return strconv.Itoa(int(w))
		}
		return cgfile.Uint(BlkioWeightToIOWeight(w))
	}
	file := "io.weight"
	if bfq {
		file = "io.bfq.weight"
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := m.write("io", file, weight(*b.Weight)); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight == nil {
			continue
		}
		v := strconv.FormatInt(wd.Major, 10) + ":" + strconv.FormatInt(wd.Minor, 10) + " " + weight(*wd.Weight)
		if err := m.write("io", file, v); err != nil {
			return err
		}
	}
	for _, line := range ioMaxLines(b) {
		if err := m.write("io", "io.max", line); err != nil {
			return err
		}
	}
	return nil
}
