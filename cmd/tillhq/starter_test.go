package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/money"
)

// tillhq serve publishes the starter ruleset init wrote only while HQ has
// published nothing; a published ruleset stays current across restarts.
func TestPublishAtStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := boltstore.Open(filepath.Join(dir, "hq.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := hq.NewServer(hq.Options{Store: store, SigningKey: key})
	log := slog.New(slog.DiscardHandler)

	// No starter file (an HQ initialised before there was one): nothing.
	if err := publishAtStart(ctx, srv, store, "", dir, log); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CurrentRuleset(ctx); !errors.Is(err, hq.ErrNoRuleset) {
		t.Fatalf("without a starter file: %v, want ErrNoRuleset", err)
	}

	eur, _ := money.ParseCurrency("EUR")
	starter := discount.Starter(eur)
	if err := os.WriteFile(filepath.Join(dir, starterRulesFile), starter, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := publishAtStart(ctx, srv, store, "", dir, log); err != nil {
		t.Fatal(err)
	}
	rs, err := store.CurrentRuleset(ctx)
	if err != nil || rs.Version != 1 || !bytes.Equal(rs.Raw, starter) {
		t.Fatalf("after the first start: version %d, %v; want the starter", rs.Version, err)
	}

	// The chain publishes its rules; a restart does not go back to the starter.
	mine := bytes.Replace(discount.Example, []byte("version = 1\n"), []byte("version = 2\n"), 1)
	if _, err := srv.PublishRuleset(ctx, mine); err != nil {
		t.Fatal(err)
	}
	if err := publishAtStart(ctx, srv, store, "", dir, log); err != nil {
		t.Fatal(err)
	}
	if rs, err := store.CurrentRuleset(ctx); err != nil || rs.Version != 2 {
		t.Fatalf("after a restart: version %d, %v; want 2", rs.Version, err)
	}

	// --rules FILE publishes that file unless HQ has its version or newer.
	file := filepath.Join(dir, "v3.toml")
	if err := os.WriteFile(file, bytes.Replace(discount.Example, []byte("version = 1\n"), []byte("version = 3\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := publishAtStart(ctx, srv, store, file, dir, log); err != nil {
			t.Fatal(err)
		}
	}
	if rs, err := store.CurrentRuleset(ctx); err != nil || rs.Version != 3 {
		t.Fatalf("with --rules: version %d, %v; want 3", rs.Version, err)
	}
}
