package hq

import (
	"context"
)

// Topics of the wake-ups replicas send each other.
const (
	TopicRules   = "rules"   // a ruleset was published
	TopicCards   = "cards"   // a card's account or holder changed, an upload was stored
	TopicRevoked = "revoked" // a terminal was revoked: its long polls end
)

// Notifier is a store that carries wake-ups between the replicas that share
// it (pgstore: LISTEN/NOTIFY). A store without one serves one process, whose
// own signals are enough.
type Notifier interface {
	// Notify sends topic to every replica listening, this one included.
	Notify(ctx context.Context, topic string) error
	// Listen calls fn with every topic sent by any replica until ctx ends;
	// after a lost connection it reconnects and calls fn with "" (something
	// may have been missed: wake everything).
	Listen(ctx context.Context, fn func(topic string)) error
}

// wake fires the local signals of topic and tells the other replicas.
func (s *Server) wake(ctx context.Context, topic string) {
	s.fireLocal(topic)
	if n, ok := s.opts.Store.(Notifier); ok {
		if err := n.Notify(context.WithoutCancel(ctx), topic); err != nil {
			s.log.Warn("cannot tell the other replicas", "topic", topic, "err", err)
		}
	}
}

func (s *Server) fireLocal(topic string) {
	if topic != TopicCards {
		s.rulesNow.forget()
	}
	s.either.fire()
	if pk := s.parked.Load(); pk != nil {
		pk.wake(topic)
	}
	switch topic {
	case TopicRules:
		s.published.fire()
	case TopicCards:
		s.cards.fire()
	default: // revoked, or a reconnection after which anything may have happened
		s.published.fire()
		s.cards.fire()
	}
}

// RunNotifications wakes this replica's long polls with what the other
// replicas publish, revoke and store, until ctx ends. Without a Notifier it
// only waits for ctx.
func (s *Server) RunNotifications(ctx context.Context) error {
	n, ok := s.opts.Store.(Notifier)
	if !ok {
		<-ctx.Done()
		return nil
	}
	return n.Listen(ctx, s.fireLocal)
}
