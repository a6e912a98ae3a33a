package pgtest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		runHelper()
		return
	}
	pgtest.Main(m)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func show(t *testing.T, conn *pgx.Conn, setting string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(context.Background(), "SHOW "+setting).Scan(&v); err != nil {
		t.Fatalf("show %s: %v", setting, err)
	}
	return v
}

func TestURLGivesEachTestItsOwnDatabase(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.URL(t), pgtest.URL(t)
	if a == b {
		t.Fatalf("two calls gave the same database %s", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	if _, err := ca.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("table of database a seen in b: count %d, %v", n, err)
	}
	for setting, want := range map[string]string{"fsync": "on", "synchronous_commit": "on", "server_encoding": "UTF8"} {
		if got := show(t, ca, setting); got != want {
			t.Errorf("%s = %s, want %s", setting, got, want)
		}
	}
}

func TestParallelTestsGetDatabasesAtOnce(t *testing.T) {
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			conn := connect(t, pgtest.URL(t))
			if _, err := conn.Exec(context.Background(), "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDropDatabaseClosesOpenSessions(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, pgtest.Options{})
	name, err := c.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, c.URL(name))
	if err := c.DropDatabase(ctx, name); err != nil {
		t.Fatalf("drop with a session open: %v", err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("session to a dropped database still answers")
	}
	if _, err := pgx.Connect(ctx, c.URL(name)); err == nil {
		t.Fatal("connected to a dropped database")
	}
}

func TestNoSyncTurnsDurabilityOff(t *testing.T) {
	c := startCluster(t, pgtest.Options{NoSync: true})
	conn := connect(t, c.URL("postgres"))
	for _, setting := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		if got := show(t, conn, setting); got != "off" {
			t.Errorf("%s = %s, want off", setting, got)
		}
	}
}

func TestStopRemovesTheCluster(t *testing.T) {
	c, err := pgtest.Start(context.Background(), pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	url := c.URL("postgres")
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory after stop: %v, want it gone", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, url); err == nil {
		conn.Close(ctx)
		t.Error("server still accepts connections after stop")
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestMissingServerIsAnError(t *testing.T) {
	_, err := pgtest.Start(context.Background(), pgtest.Options{BinDir: t.TempDir()})
	if !errors.Is(err, pgtest.ErrNoServer) {
		t.Fatalf("start without binaries = %v, want ErrNoServer", err)
	}
	if !strings.Contains(err.Error(), pgtest.InstallHint) {
		t.Errorf("error %q does not say what to install (%s)", err, pgtest.InstallHint)
	}
}

const helperEnv = "PGTEST_KILLED_HELPER"

// runHelper starts a cluster, prints its postmaster's pid and directory, and
// waits to be killed.
func runHelper() {
	c, err := pgtest.Start(context.Background(), pgtest.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(postmasterPID(c.Dir()), c.Dir())
	time.Sleep(time.Hour)
}

// postmasterPID reads the first line of the cluster's postmaster.pid.
func postmasterPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

// alive reports whether pid is a process that has not exited, without signalling it.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestKilledTestBinaryLeavesNoServer(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	var pid int
	var dir string
	if _, err := fmt.Sscan(line, &pid, &dir); err != nil || pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if !alive(pid) {
		t.Fatalf("postmaster %d not running while the helper lives", pid)
	}
	cmd.Process.Kill() // the helper is our child; the postmaster is its child
	cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still running 20 s after its test binary was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startCluster(t *testing.T, opts pgtest.Options) *pgtest.Cluster {
	t.Helper()
	c, err := pgtest.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}
