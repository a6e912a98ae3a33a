package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/internal/pgtest"
)

func TestOperatorsConformance(t *testing.T) {
	storetest.RunOperators(t, func(t *testing.T) hq.Store {
		s, err := pgstore.Open(context.Background(), pgtest.URL(t), pgstore.Options{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	})
}

// TestNotifyReachesEveryReplica: a topic one store sends reaches a Listen
// on another store of the same database.
func TestNotifyReachesEveryReplica(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.URL(t)
	a, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() { done <- b.Listen(ctx, func(topic string) { got <- topic }) }()
	// Listen is asynchronous: send until it hears one.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		if err := a.Notify(ctx, hq.TopicRules); err != nil {
			t.Fatal(err)
		}
		select {
		case topic := <-got:
			if topic != hq.TopicRules {
				t.Fatalf("heard %q, want %q", topic, hq.TopicRules)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Listen: %v", err)
			}
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("replica b never heard replica a's notification")
		}
	}
}
