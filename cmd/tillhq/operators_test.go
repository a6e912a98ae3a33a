package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPITokenPrecedenceAndBadFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	t.Setenv(envTokenFile, file)
	t.Setenv(envToken, "")
	if tok, err := apiToken(); tok != "" || err != nil {
		t.Fatalf("no token file: %q %v, want none", tok, err)
	}
	os.WriteFile(file, []byte("thq_fromfile\n"), 0o600)
	if tok, err := apiToken(); tok != "thq_fromfile" || err != nil {
		t.Fatalf("token file: %q %v", tok, err)
	}
	t.Setenv(envToken, " thq_fromenv ")
	if tok, _ := apiToken(); tok != "thq_fromenv" {
		t.Fatalf("TILLHQ_TOKEN should win over the file: %q", tok)
	}
	t.Setenv(envToken, "")
	for _, bad := range []string{"password123\n", "thq_a b\n", "thq_one\nthq_two\n"} {
		os.WriteFile(file, []byte(bad), 0o600)
		if _, err := apiToken(); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("token file %q: %v, want an error naming the file", bad, err)
		}
	}
}

func TestCheckAdminAddr(t *testing.T) {
	for _, c := range []struct {
		addr     string
		tls      bool
		loopback bool
		ok       bool
	}{
		{"127.0.0.1:7461", false, true, true},
		{"[::1]:7461", false, true, true},
		{"localhost:7461", false, true, true},
		{"0.0.0.0:7461", false, false, false},
		{"0.0.0.0:7461", true, false, true},
		{"hq.example.com:7461", true, false, true},
		{":7461", false, false, false},
		{"7461", true, false, false},
	} {
		loopback, err := checkAdminAddr(c.addr, c.tls)
		if loopback != c.loopback || (err == nil) != c.ok {
			t.Errorf("checkAdminAddr(%q, tls %v) = %v, %v; want loopback %v, ok %v", c.addr, c.tls, loopback, err, c.loopback, c.ok)
		}
	}
}
