module github.com/husk-runtime/husk

go 1.26.8

require (
	github.com/containerd/console v1.0.5
	github.com/cyphar/filepath-securejoin v0.7.0
	github.com/moby/sys/mountinfo v0.7.3
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/opencontainers/selinux v1.15.1
	github.com/seccomp/libseccomp-golang v0.11.1
	github.com/urfave/cli/v3 v3.14.0
	golang.org/x/sys v0.49.0
)

require cyphar.com/go-pathrs v0.2.5 // indirect
