package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
)

type nopReader struct{ name string }

func (nopReader) Run(ctx context.Context, emit func(Scan)) error {
	<-ctx.Done()
	return nil
}

type testConf struct{ Port string }

// registerTestTypes registers the test transports once, however often the tests run.
var registerTestTypes = sync.OnceFunc(func() {
	Register("test-registry", func(name string, decode func(any) error) (Reader, error) {
		var c testConf
		if err := decode(&c); err != nil {
			return nil, err
		}
		if c.Port == "" {
			return nil, fmt.Errorf("port is required: %w", ErrBadConfig)
		}
		return nopReader{name}, nil
	})
	Register("test-dup", func(string, func(any) error) (Reader, error) { return nopReader{}, nil })
})

func TestRegistry(t *testing.T) {
	registerTestTypes()
	if !slices.Contains(Types(), "test-registry") {
		t.Fatalf("Types() = %v, missing test-registry", Types())
	}
	withPort := func(v any) error { v.(*testConf).Port = "/dev/null"; return nil }

	tests := []struct {
		name   string
		typ    string
		decode func(any) error
		err    error
		msg    string
	}{
		{name: "ok", typ: "test-registry", decode: withPort},
		{name: "unknown type", typ: "laser", err: ErrUnknownType, msg: `open reader "unknown type": device: unknown reader type "laser" (registered: `},
		{name: "nil decode is an empty table", typ: "test-registry", err: ErrBadConfig, msg: `open reader "nil decode is an empty table": port is required`},
		{name: "decode error", typ: "test-registry", decode: func(any) error { return errors.New("line 3: bad key") }, msg: "line 3: bad key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(tt.name, tt.typ, tt.decode)
			if tt.msg == "" {
				if err != nil || r == nil {
					t.Fatalf("Open = %v, %v", r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Open error = %v, want it to say %q", err, tt.msg)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Open error %v is not %v", err, tt.err)
			}
		})
	}
}

func TestRegisterPanics(t *testing.T) {
	registerTestTypes()
	for _, tt := range []struct {
		name string
		typ  string
		f    Factory
	}{
		{"duplicate", "test-dup", func(string, func(any) error) (Reader, error) { return nopReader{}, nil }},
		{"empty type", "", func(string, func(any) error) (Reader, error) { return nopReader{}, nil }},
		{"nil factory", "test-nil", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", tt.typ)
				}
			}()
			Register(tt.typ, tt.f)
		})
	}
}

func TestReportHealth(t *testing.T) {
	ReportHealth(context.Background(), errors.New("no supervisor: must not panic"))
	var got []error
	ctx := WithHealthFunc(context.Background(), func(err error) { got = append(got, err) })
	boom := errors.New("boom")
	ReportHealth(ctx, boom)
	ReportHealth(ctx, nil)
	if len(got) != 2 || got[0] != boom || got[1] != nil {
		t.Fatalf("health reports = %v, want [boom <nil>]", got)
	}
}

func TestScanNeverShowsDataInFull(t *testing.T) {
	s := Scan{Source: "front", Kind: KindBarcode, Data: "2000000012345"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "scan", s, "card", Card{Number: s.Data, Kind: CardEAN13})
	out := buf.String() + fmt.Sprint(s) + fmt.Sprintf("%v %s", s, s)
	if strings.Contains(out, "2000000012345") || strings.Contains(out, "200000001") {
		t.Fatalf("output shows the card number: %s", out)
	}
	if !strings.Contains(out, "•••••••••2345") {
		t.Fatalf("output lacks the masked number: %s", out)
	}
}

func TestKindValid(t *testing.T) {
	for k, want := range map[Kind]bool{KindUID: true, KindBarcode: true, KindTrack: true, "": false, "UID": false} {
		if k.Valid() != want {
			t.Errorf("Kind(%q).Valid() = %v, want %v", k, !want, want)
		}
	}
}

// TestNoTransportImports keeps package device free of transport code: the
// transports depend on it, never the other way round.
func TestNoTransportImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if imp == "github.com/tilld/tilld/pos" || imp == "github.com/tilld/tilld/internal/backoff" {
			continue // the domain types (the card mask) and the one backoff, below device in README's table
		}
		if imp == "net" || imp == "os/exec" || imp == "syscall" || strings.Contains(imp, ".") {
			t.Errorf("package device imports %s; transport code belongs in a sub-package", imp)
		}
	}
}
