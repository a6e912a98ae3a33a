package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/tilld/tilld/internal/backoff"
)

// Defaults of [ManagerOptions].
const (
	DefaultDebounce   = time.Second
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// queueLen bounds the scans waiting for OnScan. People present cards a few
// times a second at most, so a full queue means OnScan is stuck.
const queueLen = 64

// ManagerOptions configure a [Manager]. The zero value is usable: scans are
// only logged, repeats within a second are dropped, restarts back off from 1 s to 30 s.
type ManagerOptions struct {
	// OnScan receives every scan that survives debouncing, one at a time, from
	// one goroutine of the Manager's. It should return quickly: while it runs,
	// up to 64 further scans wait, and more are dropped (and counted as errors).
	OnScan func(Scan)
	// Debounce drops a scan whose data equals the previous scan of the same
	// reader seen less than Debounce ago (a card held to the reader, a scanner in
	// continuous mode). Every repeat restarts the window, so a card left on the
	// reader yields one scan. Zero means DefaultDebounce; negative turns it off.
	Debounce time.Duration
	// MinBackoff and MaxBackoff bound the wait before a failed reader's Run is
	// called again. The wait doubles with every consecutive failure, is
	// jittered to between half and all of that, and starts over once a Run has
	// lasted longer than MaxBackoff. Zero means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the manager's logs; nil discards them. Card data in them
	// is always masked.
	Logger *slog.Logger
}

// State is what a reader under a Manager is doing.
type State string

// States of a reader.
const (
	// StateStopped: the Manager is not running the reader (not started yet, or shut down).
	StateStopped State = "stopped"
	// StateRunning: the reader's Run is running and has reported no fault.
	StateRunning State = "running"
	// StateRestarting: Run returned an error; the Manager waits out a backoff
	// before calling it again.
	StateRestarting State = "restarting"
	// StateFailed: Run is running but the reader reported (with [ReportHealth])
	// that the device is failing, say an unplugged adapter it keeps reopening.
	StateFailed State = "failed"
)

// Health is the state and counters of one reader, as [Manager.Status] reports them.
type Health struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	State     State     `json:"state"`
	LastScan  time.Time `json:"last_scan,omitzero"`
	Scans     int64     `json:"scans"`  // scans passed to OnScan
	Errors    int64     `json:"errors"` // failed Runs, reported faults and dropped scans
	LastError string    `json:"last_error,omitempty"`
}

var (
	// ErrDuplicateReader is returned by [Manager.Add] for a name already added.
	ErrDuplicateReader = errors.New("device: duplicate reader name")
	// ErrManagerStarted is returned by [Manager.Add] and [Manager.Run] once Run has been called.
	ErrManagerStarted = errors.New("device: manager already started")
)

// errStoppedEarly is the failure recorded for a Run that returned nil before
// its context was cancelled, breaking the Reader contract.
var errStoppedEarly = errors.New("run returned before it was cancelled")

// Manager runs a set of readers, restarts the ones that fail, debounces their
// scans and hands them to OnScan. Add readers, then call Run once; Status may be
// called at any time from any goroutine.
type Manager struct {
	opts  ManagerOptions
	log   *slog.Logger
	queue chan Scan

	mu      sync.Mutex
	started bool
	readers []*supervised
}

// supervised is one reader and what the Manager knows about it.
type supervised struct {
	name, typ string
	reader    Reader
	log       *slog.Logger

	// Guarded by Manager.mu.
	health       Health
	lastData     string    // data of the previous scan, for debouncing
	lastSeen     time.Time // when it was last seen, repeats included
	failing      bool      // between the first failure and the recovery, each logged once
	failingSince time.Time
	episodeErrs  int64           // errors since failing began
	backoff      backoff.Backoff // consecutive failed Runs
}

// NewManager returns a Manager with no readers.
func NewManager(opts ManagerOptions) *Manager {
	if opts.Debounce == 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{opts: opts, log: log, queue: make(chan Scan, queueLen)}
}

// Add puts reader r under the manager as name, of type typ (shown in Health).
// Readers are added before Run.
func (m *Manager) Add(name, typ string, r Reader) error {
	if name == "" || r == nil {
		return fmt.Errorf("add reader %q: %w: empty name or nil reader", name, ErrBadConfig)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return fmt.Errorf("add reader %q: %w", name, ErrManagerStarted)
	}
	for _, s := range m.readers {
		if s.name == name {
			return fmt.Errorf("add reader %q: %w", name, ErrDuplicateReader)
		}
	}
	m.readers = append(m.readers, &supervised{
		name:    name,
		typ:     typ,
		reader:  r,
		log:     m.log.With(logKeyReader, name, logKeyType, typ),
		health:  Health{Name: name, Type: typ, State: StateStopped},
		backoff: backoff.Backoff{Min: m.opts.MinBackoff, Max: m.opts.MaxBackoff},
	})
	return nil
}

// Status returns the health of every reader, in the order they were added.
func (m *Manager) Status() []Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Health, len(m.readers))
	for i, s := range m.readers {
		out[i] = s.health
	}
	return out
}

// Run supervises every reader until ctx is cancelled, then waits for all of
// them to return and returns nil. It may be called once.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return fmt.Errorf("run device manager: %w", ErrManagerStarted)
	}
	m.started = true
	readers := slices.Clone(m.readers)
	m.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { m.dispatch(ctx) })
	for _, s := range readers {
		wg.Go(func() { m.supervise(ctx, s) })
	}
	wg.Wait()
	return nil
}

// dispatch hands queued scans to OnScan one at a time.
func (m *Manager) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-m.queue:
			m.log.Debug("scan", logKeyScan, s)
			if m.opts.OnScan != nil {
				m.opts.OnScan(s)
			}
		}
	}
}

// supervise runs one reader until ctx is cancelled, restarting it after failures.
func (m *Manager) supervise(ctx context.Context, s *supervised) {
	rctx := WithHealthFunc(ctx, func(err error) { m.reported(s, err) })
	emit := func(sc Scan) { m.emit(s, sc) }
	for {
		m.setState(s, StateRunning)
		started := time.Now()
		err := runReader(rctx, s, emit)
		if ctx.Err() != nil {
			break
		}
		if err == nil {
			err = errStoppedEarly
		}
		if !backoff.Sleep(ctx, m.runFailed(s, err, time.Since(started))) {
			break
		}
	}
	m.setState(s, StateStopped)
}

// runReader calls Run, turning a panic into an error: one broken driver must
// not take the till down.
func runReader(ctx context.Context, s *supervised, emit func(Scan)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("reader panicked", logKeyPanic, fmt.Sprint(p), logKeyStack, string(debug.Stack()))
			err = fmt.Errorf("reader panicked: %v", p)
		}
	}()
	return s.reader.Run(ctx, emit)
}

func (m *Manager) setState(s *supervised, st State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.health.State = st
}

// runFailed records a failed Run and returns how long to wait before the next.
func (m *Manager) runFailed(s *supervised, err error, lasted time.Duration) time.Duration {
	m.mu.Lock()
	wait := s.backoff.Failed(lasted) // a Run that lasted longer than MaxBackoff starts the backoff over
	s.health.State = StateRestarting
	first := m.failedLocked(s, err)
	m.mu.Unlock()

	if first {
		s.log.Warn("reader failed; restarting it", logKeyErr, err, logKeyBackoff, wait)
	} else {
		s.log.Debug("reader failed again", logKeyErr, err, logKeyBackoff, wait)
	}
	return wait
}

// reported handles ReportHealth from a reader's Run.
func (m *Manager) reported(s *supervised, err error) {
	m.mu.Lock()
	if err == nil {
		if s.health.State == StateFailed {
			s.health.State = StateRunning
		}
		rec := m.recoveredLocked(s)
		m.mu.Unlock()
		m.logRecovery(s, rec)
		return
	}
	if s.health.State == StateRunning {
		s.health.State = StateFailed
	}
	first := m.failedLocked(s, err)
	m.mu.Unlock()
	if first {
		s.log.Warn("reader failing", logKeyErr, err)
	} else {
		s.log.Debug("reader still failing", logKeyErr, err)
	}
}

// failedLocked counts a failure and reports whether it starts a failure episode
// (the only one of the episode that is logged above debug level).
func (m *Manager) failedLocked(s *supervised, err error) (first bool) {
	s.health.Errors++
	s.health.LastError = err.Error()
	s.episodeErrs++
	if s.failing {
		return false
	}
	s.failing = true
	s.failingSince = time.Now()
	return true
}

type recovery struct {
	downFor time.Duration
	errors  int64
}

// recoveredLocked ends a failure episode, if one is going on.
func (m *Manager) recoveredLocked(s *supervised) *recovery {
	if !s.failing {
		return nil
	}
	rec := &recovery{downFor: time.Since(s.failingSince), errors: s.episodeErrs}
	s.failing = false
	s.episodeErrs = 0
	return rec
}

func (m *Manager) logRecovery(s *supervised, rec *recovery) {
	if rec != nil {
		s.log.Info("reader recovered", logKeyDownFor, rec.downFor.Round(time.Millisecond), logKeyErrors, rec.errors)
	}
}

// emit is the emit function of reader s: stamp, debounce, queue.
func (m *Manager) emit(s *supervised, sc Scan) {
	now := time.Now()
	sc.Source = s.name
	if sc.At.IsZero() {
		sc.At = now
	}

	m.mu.Lock()
	repeat := m.opts.Debounce > 0 && sc.Data == s.lastData && now.Sub(s.lastSeen) < m.opts.Debounce
	s.lastData, s.lastSeen = sc.Data, now
	if repeat {
		m.mu.Unlock()
		s.log.Debug("repeated scan dropped", logKeyScan, sc, logKeyDebounce, m.opts.Debounce)
		return
	}
	// A scan proves the device works, whatever the reader reported before.
	if s.health.State == StateFailed {
		s.health.State = StateRunning
	}
	rec := m.recoveredLocked(s)
	m.mu.Unlock()
	m.logRecovery(s, rec)

	select {
	case m.queue <- sc:
		m.mu.Lock()
		s.health.Scans++
		s.health.LastScan = sc.At
		m.mu.Unlock()
	default:
		m.mu.Lock()
		s.health.Errors++
		s.health.LastError = "scan dropped: OnScan is not keeping up"
		m.mu.Unlock()
		s.log.Warn("scan dropped: OnScan is not keeping up", logKeyScan, sc)
	}
}
