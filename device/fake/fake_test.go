package fake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/devicetest"
	"github.com/tilld/tilld/device/fake"
)

func TestConformance(t *testing.T) {
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindUID,
		Data: []string{"04A22B1A5C8001", "DEADBEEF"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			r, err := device.Open("till-1", "fake", func(v any) error {
				v.(*fake.Config).Kind = "uid"
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			fr := r.(*fake.Reader)
			return fr, func(data string) {
				if err := fr.Present(data); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
}

func TestPresentWithoutRun(t *testing.T) {
	r, err := fake.New("demo", fake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range fake.Pending {
		if err := r.Present("2000000000008"); err != nil {
			t.Fatalf("Present %d: %v", i, err)
		}
	}
	if err := r.Present("2000000000008"); !errors.Is(err, fake.ErrBusy) {
		t.Fatalf("Present beyond %d pending = %v, want ErrBusy", fake.Pending, err)
	}
	// Run delivers what waited, with the configured kind, then one of another kind.
	if err := r.PresentKind(device.KindTrack, ";79927398713?"); err == nil {
		t.Fatal("PresentKind on a full queue succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err = r.Run(ctx, func(s device.Scan) {
		if s.Kind != device.KindBarcode || s.Data != "2000000000008" || s.Source != "demo" {
			t.Errorf("scan = %+v", s)
		}
		if n++; n == fake.Pending {
			cancel()
		}
	})
	if err != nil || n != fake.Pending {
		t.Fatalf("Run = %v after %d scans, want nil after %d", err, n, fake.Pending)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		kind    string
		wantErr bool
	}{{"", false}, {"barcode", false}, {"uid", false}, {"track", false}, {"nfc", true}}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			_, err := device.Open("f", "fake", func(v any) error { v.(*fake.Config).Kind = tt.kind; return nil })
			if tt.wantErr != (err != nil) {
				t.Fatalf("Open with kind %q = %v, want error: %v", tt.kind, err, tt.wantErr)
			}
			if err != nil && (!errors.Is(err, device.ErrBadConfig) || err.Error() != `open reader "f": device: bad reader configuration: kind "nfc": want barcode, uid or track`) {
				t.Errorf("error = %v", err)
			}
		})
	}
}
