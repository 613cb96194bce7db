//go:build linux

package bbolt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

const residencySupported = true

// fileID names a file as /proc/self/maps does: device and inode.
type fileID struct {
	major, minor uint32
	inode        uint64
}

func identify(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, fmt.Errorf("store.path: %s: %w", path, err)
	}
	return fileID{major: unix.Major(st.Dev), minor: unix.Minor(st.Dev), inode: st.Ino}, nil
}

// residentFileBytes is the process's RssFile: its resident pages of
// mapped files.
func residentFileBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return statusKiB(b, "RssFile:")
}

// statusKiB reads a "Name:   1234 kB" line of /proc/PID/status, in bytes.
func statusKiB(status []byte, name string) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte(name))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("/proc/self/status: unexpected %s line %q", name, bytes.TrimSpace(line))
		}
		kib, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status: %s: %w", name, err)
		}
		return kib << 10, nil
	}
	return 0, fmt.Errorf("/proc/self/status: no %s line", name)
}

// dropMap drops the resident pages of db's map from the process, one
// chunk per read transaction (see resident.go for why that is safe).
func dropMap(db *bolt.DB, file fileID, chunk uintptr) error {
	var base uintptr
	for off := uintptr(0); ; off += chunk {
		done, err := dropChunkAt(db, file, &base, off, chunk)
		if err != nil || done {
			return err
		}
	}
}

// dropChunkAt drops [off, off+chunk) of the map inside one read
// transaction. base is the map's address when the drop began: if bbolt
// has remapped since, the drop ends (the new map began with nothing
// mapped; the next check sees what was read since).
func dropChunkAt(db *bolt.DB, file fileID, base *uintptr, off, chunk uintptr) (done bool, err error) {
	tx, err := db.Begin(false)
	if err != nil {
		return true, err
	}
	defer func() { _ = tx.Rollback() }()
	// bbolt's map lock is held (read mode) until Rollback: the map can
	// neither move nor shrink before the madvise below returns.
	addr := db.Info().Data
	if *base == 0 {
		*base = addr
	} else if addr != *base {
		return true, nil
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return true, err
	}
	size, err := mappedLength(maps, addr, file)
	if err != nil {
		return true, err
	}
	if off >= size {
		return true, nil
	}
	n := min(chunk, size-off)
	// The address is bbolt's (a uintptr from Info, not a Go pointer), so
	// the raw system call, not unix.Madvise and its []byte.
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr+off, n, unix.MADV_DONTNEED); errno != 0 {
		return true, fmt.Errorf("madvise: %w", errno)
	}
	return off+n >= size, nil
}

var errNoMap = errors.New("the store file is not mapped at the address bbolt reports")

// mappedLength reads /proc/self/maps for the mapping of file that starts
// at addr, at file offset 0, and returns its length (several adjacent
// entries that continue it count as one: the kernel may split a map).
// Anything else at addr, or nothing, is errNoMap: then nothing is dropped.
func mappedLength(maps []byte, addr uintptr, file fileID) (uintptr, error) {
	var end uintptr // of the map found so far; 0 until its start is found
	sc := bufio.NewScanner(bytes.NewReader(maps))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		e, ok := parseMapsLine(sc.Bytes())
		if !ok {
			continue
		}
		switch {
		case end == 0 && e.start == addr && e.file == file && e.offset == 0:
			end = e.end
		case end != 0 && e.start == end && e.file == file && e.offset == uint64(end-addr):
			end = e.end
		case end != 0:
			return end - addr, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("/proc/self/maps: %w", err)
	}
	if end == 0 {
		return 0, errNoMap
	}
	return end - addr, nil
}

type mapsEntry struct {
	start, end uintptr
	offset     uint64
	file       fileID
}

// parseMapsLine reads "start-end perms offset major:minor inode [path]"
// (numbers in hex but the inode).
func parseMapsLine(line []byte) (mapsEntry, bool) {
	f := bytes.Fields(line)
	if len(f) < 5 {
		return mapsEntry{}, false
	}
	startS, endS, ok := bytes.Cut(f[0], []byte("-"))
	majorS, minorS, ok2 := bytes.Cut(f[3], []byte(":"))
	if !ok || !ok2 {
		return mapsEntry{}, false
	}
	var e mapsEntry
	var errs [6]error
	var start, end, major, minor uint64
	start, errs[0] = strconv.ParseUint(string(startS), 16, 64)
	end, errs[1] = strconv.ParseUint(string(endS), 16, 64)
	e.offset, errs[2] = strconv.ParseUint(string(f[2]), 16, 64)
	major, errs[3] = strconv.ParseUint(string(majorS), 16, 32)
	minor, errs[4] = strconv.ParseUint(string(minorS), 16, 32)
	e.file.inode, errs[5] = strconv.ParseUint(string(f[4]), 10, 64)
	if errors.Join(errs[:]...) != nil || end <= start {
		return mapsEntry{}, false
	}
	e.start, e.end = uintptr(start), uintptr(end)
	e.file.major, e.file.minor = uint32(major), uint32(minor)
	return e, true
}
