package specconv

import (
	"encoding/json"
	"os"
	"strconv"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// decodeSpecFast decodes config.json without reflection: encoding/json's
// first use costs ~0.7 ms here (building its view of ~30 struct types, and
// the page faults of its code), more than the rest of parsing and
// converting together, on every create. It handles the fields a Linux
// config has, exactly as encoding/json would decode them, and gives up
// (ok false) on anything else: an unknown or differently-cased key, a value
// of another type, a duplicate key, a number out of range, invalid JSON.
// LoadSpec then decodes with encoding/json, which also produces the error
// message for bad input. A test checks that both agree on every CRI
// fixture.
func decodeSpecFast(b []byte) (spec *specs.Spec, ok bool) {
	d := &fdec{b: b}
	s := &specs.Spec{}
	d.object(func(k string) {
		switch k {
		case "ociVersion":
			d.str(&s.Version)
		case "process":
			if d.null() {
				s.Process = nil
				return
			}
			s.Process = &specs.Process{}
			d.process(s.Process)
		case "root":
			if d.null() {
				s.Root = nil
				return
			}
			s.Root = &specs.Root{}
			d.object(func(k string) {
				switch k {
				case "path":
					d.str(&s.Root.Path)
				case "readonly":
					d.boolean(&s.Root.Readonly)
				default:
					d.fail()
				}
			})
		case "hostname":
			d.str(&s.Hostname)
		case "domainname":
			d.str(&s.Domainname)
		case "mounts":
			d.mounts(&s.Mounts)
		case "hooks":
			if d.null() {
				s.Hooks = nil
				return
			}
			s.Hooks = &specs.Hooks{}
			d.hooks(s.Hooks)
		case "annotations":
			d.strMap(&s.Annotations)
		case "linux":
			if d.null() {
				s.Linux = nil
				return
			}
			s.Linux = &specs.Linux{}
			d.linux(s.Linux)
		default:
			d.fail()
		}
	})
	d.ws()
	if d.bad || d.i != len(d.b) {
		return nil, false
	}
	return s, true
}

// decodeProcessFast is decodeSpecFast for a process object alone (`exec
// --process`, what containerd sends for every exec).
func decodeProcessFast(b []byte) (*specs.Process, bool) {
	d := &fdec{b: b}
	p := &specs.Process{}
	d.process(p)
	d.ws()
	if d.bad || d.i != len(d.b) {
		return nil, false
	}
	return p, true
}

// fdec is a JSON reader that stops at the first thing it does not handle:
// bad is set and every later read is a no-op.
type fdec struct {
	b   []byte
	i   int
	bad bool
}

func (d *fdec) fail() { d.bad = true }

func (d *fdec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *fdec) peek() byte {
	d.ws()
	if d.bad || d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *fdec) expect(c byte) {
	if d.peek() != c {
		d.fail()
		return
	}
	d.i++
}

// literal consumes word (true, false, null) if it is next.
func (d *fdec) literal(word string) bool {
	if d.peek() != word[0] || len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// null consumes a null; a null leaves a value unchanged and makes a
// pointer, slice or map nil, as in encoding/json.
func (d *fdec) null() bool { return !d.bad && d.literal("null") }

// object calls field for each key of an object; field consumes the value.
func (d *fdec) object(field func(k string)) {
	d.expect('{')
	var seen []string
	if d.peek() == '}' {
		d.i++
		return
	}
	for !d.bad {
		k, ok := d.rawString()
		if !ok {
			d.fail()
			return
		}
		for _, s := range seen {
			if s == k {
				d.fail() // encoding/json merges duplicates: leave it that
				return
			}
		}
		seen = append(seen, k)
		d.expect(':')
		if d.bad {
			return
		}
		field(k)
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// array calls elem for each element; elem consumes it.
func (d *fdec) array(elem func()) {
	d.expect('[')
	if d.peek() == ']' {
		d.i++
		return
	}
	for !d.bad {
		elem()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// rawString reads a string with neither escapes nor anything but valid
// UTF-8 printable text, the common case, in place.
func (d *fdec) rawString() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		if c == '"' {
			s := d.b[start:j]
			if !utf8.Valid(s) {
				return "", false
			}
			d.i = j + 1
			return string(s), true
		}
		if c == '\\' || c < 0x20 {
			return "", false
		}
	}
	return "", false
}

// str reads a string value; one with escapes goes through encoding/json
// for that one token (cheap: no struct types involved).
func (d *fdec) str(p *string) {
	if d.null() || d.bad {
		return
	}
	if s, ok := d.rawString(); ok {
		*p = s
		return
	}
	if d.peek() != '"' {
		d.fail()
		return
	}
	end := d.i + 1
	for ; end < len(d.b); end++ {
		if d.b[end] == '\\' {
			end++
			continue
		}
		if d.b[end] == '"' {
			break
		}
	}
	if end >= len(d.b) {
		d.fail()
		return
	}
	var s string
	if err := json.Unmarshal(d.b[d.i:end+1], &s); err != nil {
		d.fail()
		return
	}
	d.i = end + 1
	*p = s
}

func (d *fdec) boolean(p *bool) {
	switch {
	case d.null() || d.bad:
	case d.literal("true"):
		*p = true
	case d.literal("false"):
		*p = false
	default:
		d.fail()
	}
}

// number returns the next JSON number's text, checked against the JSON
// grammar; integers only (a fraction or exponent is not one of ours).
func (d *fdec) number() string {
	d.ws()
	start := d.i
	j := d.i
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	digits := j
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		j++
	}
	if j == digits || (d.b[digits] == '0' && j-digits > 1) {
		d.fail()
		return ""
	}
	if j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E') {
		d.fail()
		return ""
	}
	d.i = j
	return string(d.b[start:j])
}

func (d *fdec) uintN(bits int) (uint64, bool) {
	if d.bad {
		return 0, false
	}
	v, err := strconv.ParseUint(d.number(), 10, bits)
	if err != nil {
		d.fail()
		return 0, false
	}
	return v, !d.bad
}

func (d *fdec) intN(bits int) (int64, bool) {
	if d.bad {
		return 0, false
	}
	v, err := strconv.ParseInt(d.number(), 10, bits)
	if err != nil {
		d.fail()
		return 0, false
	}
	return v, !d.bad
}

func (d *fdec) u32(p *uint32) {
	if d.null() {
		return
	}
	if v, ok := d.uintN(32); ok {
		*p = uint32(v)
	}
}

func (d *fdec) u64(p *uint64) {
	if d.null() {
		return
	}
	if v, ok := d.uintN(64); ok {
		*p = v
	}
}

func (d *fdec) i64(p *int64) {
	if d.null() {
		return
	}
	if v, ok := d.intN(64); ok {
		*p = v
	}
}

func (d *fdec) u32p(p **uint32) {
	if d.null() {
		*p = nil
		return
	}
	var v uint32
	d.u32(&v)
	*p = &v
}

func (d *fdec) u64p(p **uint64) {
	if d.null() {
		*p = nil
		return
	}
	var v uint64
	d.u64(&v)
	*p = &v
}

func (d *fdec) i64p(p **int64) {
	if d.null() {
		*p = nil
		return
	}
	var v int64
	d.i64(&v)
	*p = &v
}

func (d *fdec) u16p(p **uint16) {
	if d.null() {
		*p = nil
		return
	}
	if v, ok := d.uintN(16); ok {
		w := uint16(v)
		*p = &w
	}
}

func (d *fdec) uintp(p **uint) {
	if d.null() {
		*p = nil
		return
	}
	if v, ok := d.uintN(strconv.IntSize); ok {
		w := uint(v)
		*p = &w
	}
}

func (d *fdec) boolp(p **bool) {
	if d.null() {
		*p = nil
		return
	}
	var v bool
	d.boolean(&v)
	*p = &v
}

// list decodes an array into a fresh slice of n elements filled by elem
// (encoding/json gives an empty, non-nil slice for []).
func list[T any](d *fdec, p *[]T, elem func(*T)) {
	if d.null() {
		*p = nil
		return
	}
	out := make([]T, 0, 4)
	d.array(func() {
		var v T
		elem(&v)
		out = append(out, v)
	})
	*p = out
}

func (d *fdec) strs(p *[]string) { list(d, p, d.str) }

func strList[T ~string](d *fdec, p *[]T) {
	list(d, p, func(v *T) {
		var s string
		d.str(&s)
		*v = T(s)
	})
}

func (d *fdec) strMap(p *map[string]string) {
	if d.null() {
		*p = nil
		return
	}
	m := map[string]string{}
	d.object(func(k string) {
		var v string
		d.str(&v)
		m[k] = v
	})
	*p = m
}

func (d *fdec) process(p *specs.Process) {
	d.object(func(k string) {
		switch k {
		case "terminal":
			d.boolean(&p.Terminal)
		case "consoleSize":
			if d.null() {
				p.ConsoleSize = nil
				return
			}
			p.ConsoleSize = &specs.Box{}
			d.object(func(k string) {
				switch k {
				case "height", "width":
					ptr := &p.ConsoleSize.Height
					if k == "width" {
						ptr = &p.ConsoleSize.Width
					}
					if d.null() {
						return
					}
					if v, ok := d.uintN(strconv.IntSize); ok {
						*ptr = uint(v)
					}
				default:
					d.fail()
				}
			})
		case "user":
			if d.null() {
				return
			}
			d.object(func(k string) {
				switch k {
				case "uid":
					d.u32(&p.User.UID)
				case "gid":
					d.u32(&p.User.GID)
				case "umask":
					d.u32p(&p.User.Umask)
				case "additionalGids":
					list(d, &p.User.AdditionalGids, d.u32)
				default:
					d.fail()
				}
			})
		case "args":
			d.strs(&p.Args)
		case "env":
			d.strs(&p.Env)
		case "cwd":
			d.str(&p.Cwd)
		case "capabilities":
			if d.null() {
				p.Capabilities = nil
				return
			}
			c := &specs.LinuxCapabilities{}
			p.Capabilities = c
			d.object(func(k string) {
				switch k {
				case "bounding":
					d.strs(&c.Bounding)
				case "effective":
					d.strs(&c.Effective)
				case "inheritable":
					d.strs(&c.Inheritable)
				case "permitted":
					d.strs(&c.Permitted)
				case "ambient":
					d.strs(&c.Ambient)
				default:
					d.fail()
				}
			})
		case "rlimits":
			list(d, &p.Rlimits, func(r *specs.POSIXRlimit) {
				d.object(func(k string) {
					switch k {
					case "type":
						d.str(&r.Type)
					case "hard":
						d.u64(&r.Hard)
					case "soft":
						d.u64(&r.Soft)
					default:
						d.fail()
					}
				})
			})
		case "noNewPrivileges":
			d.boolean(&p.NoNewPrivileges)
		case "apparmorProfile":
			d.str(&p.ApparmorProfile)
		case "selinuxLabel":
			d.str(&p.SelinuxLabel)
		case "oomScoreAdj":
			if d.null() {
				p.OOMScoreAdj = nil
				return
			}
			if v, ok := d.intN(strconv.IntSize); ok {
				n := int(v)
				p.OOMScoreAdj = &n
			}
		case "scheduler":
			if d.null() {
				p.Scheduler = nil
				return
			}
			s := &specs.Scheduler{}
			p.Scheduler = s
			d.object(func(k string) {
				switch k {
				case "policy":
					var v string
					d.str(&v)
					s.Policy = specs.LinuxSchedulerPolicy(v)
				case "nice", "priority":
					ptr := &s.Nice
					if k == "priority" {
						ptr = &s.Priority
					}
					if d.null() {
						return
					}
					if v, ok := d.intN(32); ok {
						*ptr = int32(v)
					}
				case "flags":
					strList(d, &s.Flags)
				case "runtime":
					d.u64(&s.Runtime)
				case "deadline":
					d.u64(&s.Deadline)
				case "period":
					d.u64(&s.Period)
				default:
					d.fail()
				}
			})
		case "ioPriority":
			if d.null() {
				p.IOPriority = nil
				return
			}
			io := &specs.LinuxIOPriority{}
			p.IOPriority = io
			d.object(func(k string) {
				switch k {
				case "class":
					var v string
					d.str(&v)
					io.Class = specs.IOPriorityClass(v)
				case "priority":
					if d.null() {
						return
					}
					if v, ok := d.intN(strconv.IntSize); ok {
						io.Priority = int(v)
					}
				default:
					d.fail()
				}
			})
		case "execCPUAffinity":
			if d.null() {
				p.ExecCPUAffinity = nil
				return
			}
			a := &specs.CPUAffinity{}
			p.ExecCPUAffinity = a
			d.object(func(k string) {
				switch k {
				case "initial":
					d.str(&a.Initial)
				case "final":
					d.str(&a.Final)
				default:
					d.fail()
				}
			})
		default:
			d.fail()
		}
	})
}

func (d *fdec) idMaps(p *[]specs.LinuxIDMapping) {
	list(d, p, func(m *specs.LinuxIDMapping) {
		d.object(func(k string) {
			switch k {
			case "containerID":
				d.u32(&m.ContainerID)
			case "hostID":
				d.u32(&m.HostID)
			case "size":
				d.u32(&m.Size)
			default:
				d.fail()
			}
		})
	})
}

func (d *fdec) mounts(p *[]specs.Mount) {
	list(d, p, func(m *specs.Mount) {
		d.object(func(k string) {
			switch k {
			case "destination":
				d.str(&m.Destination)
			case "type":
				d.str(&m.Type)
			case "source":
				d.str(&m.Source)
			case "options":
				d.strs(&m.Options)
			case "uidMappings":
				d.idMaps(&m.UIDMappings)
			case "gidMappings":
				d.idMaps(&m.GIDMappings)
			default:
				d.fail()
			}
		})
	})
}

func (d *fdec) hooks(h *specs.Hooks) {
	d.object(func(k string) {
		var l *[]specs.Hook
		switch k {
		case "prestart":
			l = &h.Prestart //nolint:staticcheck // deprecated, still decoded
		case "createRuntime":
			l = &h.CreateRuntime
		case "createContainer":
			l = &h.CreateContainer
		case "startContainer":
			l = &h.StartContainer
		case "poststart":
			l = &h.Poststart
		case "poststop":
			l = &h.Poststop
		default:
			d.fail()
			return
		}
		list(d, l, func(hk *specs.Hook) {
			d.object(func(k string) {
				switch k {
				case "path":
					d.str(&hk.Path)
				case "args":
					d.strs(&hk.Args)
				case "env":
					d.strs(&hk.Env)
				case "timeout":
					if d.null() {
						hk.Timeout = nil
						return
					}
					if v, ok := d.intN(strconv.IntSize); ok {
						n := int(v)
						hk.Timeout = &n
					}
				default:
					d.fail()
				}
			})
		})
	})
}

func (d *fdec) linux(l *specs.Linux) {
	d.object(func(k string) {
		switch k {
		case "uidMappings":
			d.idMaps(&l.UIDMappings)
		case "gidMappings":
			d.idMaps(&l.GIDMappings)
		case "sysctl":
			d.strMap(&l.Sysctl)
		case "resources":
			if d.null() {
				l.Resources = nil
				return
			}
			l.Resources = &specs.LinuxResources{}
			d.resources(l.Resources)
		case "cgroupsPath":
			d.str(&l.CgroupsPath)
		case "namespaces":
			list(d, &l.Namespaces, func(ns *specs.LinuxNamespace) {
				d.object(func(k string) {
					switch k {
					case "type":
						var v string
						d.str(&v)
						ns.Type = specs.LinuxNamespaceType(v)
					case "path":
						d.str(&ns.Path)
					default:
						d.fail()
					}
				})
			})
		case "devices":
			list(d, &l.Devices, d.device)
		case "seccomp":
			if d.null() {
				l.Seccomp = nil
				return
			}
			l.Seccomp = &specs.LinuxSeccomp{}
			d.seccomp(l.Seccomp)
		case "rootfsPropagation":
			d.str(&l.RootfsPropagation)
		case "maskedPaths":
			d.strs(&l.MaskedPaths)
		case "readonlyPaths":
			d.strs(&l.ReadonlyPaths)
		case "mountLabel":
			d.str(&l.MountLabel)
		case "personality":
			if d.null() {
				l.Personality = nil
				return
			}
			p := &specs.LinuxPersonality{}
			l.Personality = p
			d.object(func(k string) {
				switch k {
				case "domain":
					var v string
					d.str(&v)
					p.Domain = specs.LinuxPersonalityDomain(v)
				case "flags":
					strList(d, &p.Flags)
				default:
					d.fail()
				}
			})
		case "timeOffsets":
			if d.null() {
				l.TimeOffsets = nil
				return
			}
			m := map[string]specs.LinuxTimeOffset{}
			d.object(func(k string) {
				var o specs.LinuxTimeOffset
				d.object(func(f string) {
					switch f {
					case "secs":
						d.i64(&o.Secs)
					case "nanosecs":
						d.u32(&o.Nanosecs)
					default:
						d.fail()
					}
				})
				m[k] = o
			})
			l.TimeOffsets = m
		default:
			d.fail()
		}
	})
}

func (d *fdec) device(dv *specs.LinuxDevice) {
	d.object(func(k string) {
		switch k {
		case "path":
			d.str(&dv.Path)
		case "type":
			d.str(&dv.Type)
		case "major":
			d.i64(&dv.Major)
		case "minor":
			d.i64(&dv.Minor)
		case "fileMode":
			if d.null() {
				dv.FileMode = nil
				return
			}
			if v, ok := d.uintN(32); ok {
				m := os.FileMode(v)
				dv.FileMode = &m
			}
		case "uid":
			d.u32p(&dv.UID)
		case "gid":
			d.u32p(&dv.GID)
		default:
			d.fail()
		}
	})
}

func (d *fdec) seccomp(s *specs.LinuxSeccomp) {
	d.object(func(k string) {
		switch k {
		case "defaultAction":
			var v string
			d.str(&v)
			s.DefaultAction = specs.LinuxSeccompAction(v)
		case "defaultErrnoRet":
			d.uintp(&s.DefaultErrnoRet)
		case "architectures":
			strList(d, &s.Architectures)
		case "flags":
			strList(d, &s.Flags)
		case "listenerPath":
			d.str(&s.ListenerPath)
		case "listenerMetadata":
			d.str(&s.ListenerMetadata)
		case "syscalls":
			list(d, &s.Syscalls, func(sc *specs.LinuxSyscall) {
				d.object(func(k string) {
					switch k {
					case "names":
						d.strs(&sc.Names)
					case "action":
						var v string
						d.str(&v)
						sc.Action = specs.LinuxSeccompAction(v)
					case "errnoRet":
						d.uintp(&sc.ErrnoRet)
					case "args":
						list(d, &sc.Args, func(a *specs.LinuxSeccompArg) {
							d.object(func(k string) {
								switch k {
								case "index":
									if d.null() {
										return
									}
									if v, ok := d.uintN(strconv.IntSize); ok {
										a.Index = uint(v)
									}
								case "value":
									d.u64(&a.Value)
								case "valueTwo":
									d.u64(&a.ValueTwo)
								case "op":
									var v string
									d.str(&v)
									a.Op = specs.LinuxSeccompOperator(v)
								default:
									d.fail()
								}
							})
						})
					default:
						d.fail()
					}
				})
			})
		default:
			d.fail()
		}
	})
}

func (d *fdec) resources(r *specs.LinuxResources) {
	d.object(func(k string) {
		switch k {
		case "devices":
			list(d, &r.Devices, func(dc *specs.LinuxDeviceCgroup) {
				d.object(func(k string) {
					switch k {
					case "allow":
						d.boolean(&dc.Allow)
					case "type":
						d.str(&dc.Type)
					case "major":
						d.i64p(&dc.Major)
					case "minor":
						d.i64p(&dc.Minor)
					case "access":
						d.str(&dc.Access)
					default:
						d.fail()
					}
				})
			})
		case "memory":
			if d.null() {
				r.Memory = nil
				return
			}
			m := &specs.LinuxMemory{}
			r.Memory = m
			d.object(func(k string) {
				switch k {
				case "limit":
					d.i64p(&m.Limit)
				case "reservation":
					d.i64p(&m.Reservation)
				case "swap":
					d.i64p(&m.Swap)
				case "kernel":
					d.i64p(&m.Kernel) //nolint:staticcheck // deprecated, still decoded
				case "kernelTCP":
					d.i64p(&m.KernelTCP) //nolint:staticcheck // deprecated, still decoded
				case "swappiness":
					d.u64p(&m.Swappiness)
				case "disableOOMKiller":
					d.boolp(&m.DisableOOMKiller)
				case "useHierarchy":
					d.boolp(&m.UseHierarchy)
				case "checkBeforeUpdate":
					d.boolp(&m.CheckBeforeUpdate)
				default:
					d.fail()
				}
			})
		case "cpu":
			if d.null() {
				r.CPU = nil
				return
			}
			c := &specs.LinuxCPU{}
			r.CPU = c
			d.object(func(k string) {
				switch k {
				case "shares":
					d.u64p(&c.Shares)
				case "quota":
					d.i64p(&c.Quota)
				case "burst":
					d.u64p(&c.Burst)
				case "period":
					d.u64p(&c.Period)
				case "realtimeRuntime":
					d.i64p(&c.RealtimeRuntime)
				case "realtimePeriod":
					d.u64p(&c.RealtimePeriod)
				case "cpus":
					d.str(&c.Cpus)
				case "mems":
					d.str(&c.Mems)
				case "idle":
					d.i64p(&c.Idle)
				default:
					d.fail()
				}
			})
		case "pids":
			if d.null() {
				r.Pids = nil
				return
			}
			r.Pids = &specs.LinuxPids{}
			d.object(func(k string) {
				if k != "limit" {
					d.fail()
					return
				}
				d.i64p(&r.Pids.Limit)
			})
		case "blockIO":
			if d.null() {
				r.BlockIO = nil
				return
			}
			r.BlockIO = &specs.LinuxBlockIO{}
			d.blockIO(r.BlockIO)
		case "hugepageLimits":
			list(d, &r.HugepageLimits, func(h *specs.LinuxHugepageLimit) {
				d.object(func(k string) {
					switch k {
					case "pageSize":
						d.str(&h.Pagesize)
					case "limit":
						d.u64(&h.Limit)
					default:
						d.fail()
					}
				})
			})
		case "network":
			if d.null() {
				r.Network = nil
				return
			}
			n := &specs.LinuxNetwork{}
			r.Network = n
			d.object(func(k string) {
				switch k {
				case "classID":
					d.u32p(&n.ClassID)
				case "priorities":
					list(d, &n.Priorities, func(p *specs.LinuxInterfacePriority) {
						d.object(func(k string) {
							switch k {
							case "name":
								d.str(&p.Name)
							case "priority":
								d.u32(&p.Priority)
							default:
								d.fail()
							}
						})
					})
				default:
					d.fail()
				}
			})
		case "rdma":
			if d.null() {
				r.Rdma = nil
				return
			}
			m := map[string]specs.LinuxRdma{}
			d.object(func(k string) {
				var v specs.LinuxRdma
				d.object(func(f string) {
					switch f {
					case "hcaHandles":
						d.u32p(&v.HcaHandles)
					case "hcaObjects":
						d.u32p(&v.HcaObjects)
					default:
						d.fail()
					}
				})
				m[k] = v
			})
			r.Rdma = m
		case "unified":
			d.strMap(&r.Unified)
		default:
			d.fail()
		}
	})
}

func (d *fdec) blockIO(b *specs.LinuxBlockIO) {
	throttle := func(p *[]specs.LinuxThrottleDevice) {
		list(d, p, func(t *specs.LinuxThrottleDevice) {
			d.object(func(k string) {
				switch k {
				case "major":
					d.i64(&t.Major)
				case "minor":
					d.i64(&t.Minor)
				case "rate":
					d.u64(&t.Rate)
				default:
					d.fail()
				}
			})
		})
	}
	d.object(func(k string) {
		switch k {
		case "weight":
			d.u16p(&b.Weight)
		case "leafWeight":
			d.u16p(&b.LeafWeight)
		case "weightDevice":
			list(d, &b.WeightDevice, func(w *specs.LinuxWeightDevice) {
				d.object(func(k string) {
					switch k {
					case "major":
						d.i64(&w.Major)
					case "minor":
						d.i64(&w.Minor)
					case "weight":
						d.u16p(&w.Weight)
					case "leafWeight":
						d.u16p(&w.LeafWeight)
					default:
						d.fail()
					}
				})
			})
		case "throttleReadBpsDevice":
			throttle(&b.ThrottleReadBpsDevice)
		case "throttleWriteBpsDevice":
			throttle(&b.ThrottleWriteBpsDevice)
		case "throttleReadIOPSDevice":
			throttle(&b.ThrottleReadIOPSDevice)
		case "throttleWriteIOPSDevice":
			throttle(&b.ThrottleWriteIOPSDevice)
		default:
			d.fail()
		}
	})
}
