package doctor

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// ServiceUser is the system user the tilld package creates and runs tilld as.
const ServiceUser = "tilld"

// Identity is a user whose access to device files the checks judge: the tilld
// service user, which is not who runs tillctl doctor (store IT, usually root).
type Identity struct {
	Name string
	UID  int
	// GIDs are the user's primary and supplementary groups.
	GIDs []int
}

// IsZero reports whether id is the zero Identity, which the checks read as "the
// user running the check".
func (id Identity) IsZero() bool { return id.Name == "" && id.UID == 0 && id.GIDs == nil }

// LookupUser returns the identity of the named system user and its groups.
func LookupUser(name string) (Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Identity{}, fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return Identity{}, fmt.Errorf("look up user %s: uid %q: %w", name, u.Uid, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return Identity{}, fmt.Errorf("look up groups of user %s: %w", name, err)
	}
	id := Identity{Name: name, UID: uid}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err != nil {
			return Identity{}, fmt.Errorf("look up groups of user %s: gid %q: %w", name, g, err)
		}
		id.GIDs = append(id.GIDs, n)
	}
	return id, nil
}

// Self returns the identity of the running process.
func Self() Identity {
	id := Identity{UID: os.Getuid(), GIDs: []int{os.Getgid()}}
	if groups, err := os.Getgroups(); err == nil {
		id.GIDs = append(id.GIDs, groups...)
	}
	id.Name = strconv.Itoa(id.UID)
	if u, err := user.LookupId(id.Name); err == nil {
		id.Name = u.Username
	}
	return id
}

func (id Identity) orSelf() Identity {
	if id.IsZero() {
		return Self()
	}
	return id
}

func (id Identity) String() string {
	if id.Name != "" {
		return fmt.Sprintf("user %s", id.Name)
	}
	return fmt.Sprintf("uid %d", id.UID)
}

func (id Identity) inGroup(gid int) bool {
	for _, g := range id.GIDs {
		if g == gid {
			return true
		}
	}
	return false
}

// access is what the classic Unix permission bits (no ACLs, no capabilities
// beyond root's) say about id reading and writing a file.
type access struct {
	ok bool
	// owner and group of the file, as names when they resolve.
	owner, group string
	gid          int
	// groupRW: the file's group may read and write it, so joining that group
	// is the fix.
	groupRW bool
	mode    fs.FileMode
}

// mayReadWrite judges whether id may open the file described by fi for
// reading and writing.
func (id Identity) mayReadWrite(fi fs.FileInfo) access {
	uid, gid, known := fileOwner(fi)
	a := access{mode: fi.Mode(), gid: gid, owner: strconv.Itoa(uid), group: strconv.Itoa(gid)}
	if !known {
		a.ok = true // no owner information on this platform: let the open decide
		return a
	}
	if u, err := user.LookupId(a.owner); err == nil {
		a.owner = u.Username
	}
	if g, err := user.LookupGroupId(a.group); err == nil {
		a.group = g.Name
	}
	perm := fi.Mode().Perm()
	a.groupRW = perm&0o060 == 0o060
	switch {
	case id.UID == 0:
		a.ok = true
	case id.UID == uid:
		a.ok = perm&0o600 == 0o600
	case id.inGroup(gid):
		a.ok = a.groupRW
	default:
		a.ok = perm&0o006 == 0o006
	}
	return a
}

// describe is e.g. "crw-rw---- root:dialout".
func (a access) describe() string {
	return fmt.Sprintf("%v %s:%s", a.mode, a.owner, a.group)
}
