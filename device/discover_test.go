package device

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestDiscover(t *testing.T) {
	registryMu.Lock()
	saved := discoverers
	discoverers = map[string]DiscoverFunc{}
	registryMu.Unlock()
	t.Cleanup(func() {
		registryMu.Lock()
		discoverers = saved
		registryMu.Unlock()
	})

	broken := errors.New("pcscd is not running")
	RegisterDiscover("zz", func(context.Context) ([]Discovered, error) {
		return []Discovered{{Type: "zz", ID: "b"}, {Type: "zz", ID: "a", State: "empty"}}, nil
	})
	RegisterDiscover("aa", func(context.Context) ([]Discovered, error) { return nil, broken })
	RegisterDiscover("mm", func(context.Context) ([]Discovered, error) {
		return []Discovered{{Type: "mm", ID: "1"}}, nil
	})

	got, err := Discover(t.Context())
	want := []Discovered{{Type: "mm", ID: "1"}, {Type: "zz", ID: "a", State: "empty"}, {Type: "zz", ID: "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover = %+v, want %+v", got, want)
	}
	if !errors.Is(err, broken) || err.Error() != "discover aa devices: pcscd is not running" {
		t.Errorf("Discover error = %v, want the failing transport's error, named", err)
	}

	for _, tt := range []struct {
		name string
		typ  string
		f    DiscoverFunc
	}{
		{"empty type", "", func(context.Context) ([]Discovered, error) { return nil, nil }},
		{"nil func", "x", nil},
		{"twice", "mm", func(context.Context) ([]Discovered, error) { return nil, nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			RegisterDiscover(tt.typ, tt.f)
		})
	}
}
