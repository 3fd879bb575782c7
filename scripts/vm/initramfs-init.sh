#!/bin/busybox sh
# PID 1 of the cgroup v2 test guest's initramfs (see run-v2-tests.sh): load
# the 9p modules, build a tmpfs root from the host's /usr and /etc (9p,
# read-only) and the shared work directory, and switch_root into it. The
# tmpfs root matters: pivot_root(2), which husk uses for containers, fails
# when the caller's root is the initramfs.
/bin/busybox --install -s /bin
export PATH=/bin

die() {
	echo "initramfs: $*"
	echo o >/proc/sysrq-trigger
	sleep 10
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	insmod "/modules/$m.ko" || die "insmod $m failed"
done </modules/order

mount -t tmpfs -o mode=0755 tmpfs /newroot || die "mount tmpfs root"
cd /newroot || die "cd /newroot"
mkdir -p usr etc work proc sys dev tmp run root var/tmp
chmod 1777 tmp var/tmp
ln -s usr/bin bin
ln -s usr/sbin sbin
ln -s usr/lib lib
ln -s usr/lib64 lib64
# msize: larger 9p messages make reading the binaries much faster.
opts=trans=virtio,version=9p2000.L,msize=512000,cache=loose
mount -t 9p -o "$opts,ro" usr /newroot/usr || die "mount 9p usr"
mount -t 9p -o "$opts,ro" etc /newroot/etc || die "mount 9p etc"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work /newroot/work || die "mount 9p work"
umount /proc /sys
mount --move /dev /newroot/dev || umount /dev
exec switch_root /newroot /usr/bin/bash /work/guest-tests.sh
