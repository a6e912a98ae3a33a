package doctor

import (
	"os"
	"os/user"
	"strconv"
	"testing"
)

func TestLookupUser(t *testing.T) {
	root, err := LookupUser("root")
	if err != nil {
		t.Fatal(err)
	}
	if root.Name != "root" || root.UID != 0 || !root.inGroup(0) {
		t.Errorf("root = %+v", root)
	}
	if _, err := LookupUser("no-such-user-tilld-test"); err == nil {
		t.Error("LookupUser of a missing user returned no error")
	}
}

func TestSelf(t *testing.T) {
	self := Self()
	if self.UID != os.Getuid() || !self.inGroup(os.Getgid()) {
		t.Errorf("Self() = %+v, want uid %d in group %d", self, os.Getuid(), os.Getgid())
	}
	if u, err := user.Current(); err == nil && self.Name != u.Username {
		t.Errorf("Self().Name = %q, want %q", self.Name, u.Username)
	}
	if (Identity{}).orSelf().UID != os.Getuid() {
		t.Error("the zero Identity does not stand for the running user")
	}
	if got := (Identity{UID: 7}).String(); got != "uid 7" {
		t.Errorf("String() = %q", got)
	}
}

func TestMayReadWrite(t *testing.T) {
	dir := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	other := Identity{Name: "x", UID: uid + 1000, GIDs: []int{gid + 1000}}
	tests := []struct {
		name string
		mode os.FileMode
		id   Identity
		want bool
	}{
		{"root may do anything", 0o000, Identity{Name: "root", UID: 0}, true},
		{"owner rw", 0o600, Identity{UID: uid, GIDs: []int{gid + 1000}}, true},
		// Running as root, the owner is root, who may write anyway.
		{"owner read-only", 0o400, Identity{UID: uid, GIDs: []int{gid + 1000}}, uid == 0},
		{"group rw", 0o060, Identity{UID: uid + 1000, GIDs: []int{gid}}, true},
		{"group read-only", 0o040, Identity{UID: uid + 1000, GIDs: []int{gid}}, false},
		{"others rw", 0o006, other, true},
		{"others nothing", 0o660, other, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := touch(t, dir, strconv.Itoa(i), tt.mode)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.id.mayReadWrite(fi).ok; got != tt.want {
				t.Errorf("mayReadWrite(%v) for %+v = %v, want %v", tt.mode, tt.id, got, tt.want)
			}
		})
	}
}
