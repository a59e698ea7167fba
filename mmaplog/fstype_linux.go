//go:build linux

package mmaplog

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Network file systems, on which flock(2) and shared mappings do not give the guarantees
// the log relies on (statfs f_type magic numbers, from linux/magic.h).
var networkFS = map[int64]string{
	0x6969:     "nfs",
	0x517B:     "smb",
	0xFF534D42: "cifs",
	0xFE534D42: "smb2",
	0x00C36400: "ceph",
	0x5346414F: "afs",
	0x6B414653: "kafs",
	0x01161970: "gfs2",
	0x7461636F: "ocfs2",
	0x47504653: "gpfs",
	0x0BD00BD0: "lustre",
}

// checkLocalFS refuses a directory on a network file system.
func checkLocalFS(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("mmaplog: statfs %s: %w", dir, err)
	}
	return refuseType(int64(st.Type), dir)
}

// refuseType returns ErrUnsupportedFS for a network file system type.
func refuseType(fsType int64, dir string) error {
	if name, ok := networkFS[fsType]; ok {
		return fmt.Errorf("%w: %s is on %s, a network file system", ErrUnsupportedFS, dir, name)
	}
	return nil
}
