package hq

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Card accounts and card holders over HTTP: terminals send the holders they
// registered, look a card up on scan and follow the change feed of the cards
// they have seen; HQ staff import a customer base, look a card up and forget a
// holder.

// maxHolderSkew is how far ahead of HQ's clock a terminal's holder may be
// dated. Of two versions of a holder the later Updated wins, everywhere, so
// a till whose clock runs ahead would otherwise shadow every later change
// of the holder, HQ's own import and forget included, until its date
// passes (a holder dated 9999 for good). Five minutes lets a till whose
// clock has not yet synced after a boot through, as Kerberos's customary
// tolerance does, while HQ's fleet view already flags a clock a minute off
// (maxClockSkew); a holder dated within it can outrank HQ's changes of the
// next five minutes at most.
const maxHolderSkew = 5 * time.Minute

func (s *Server) holders(w http.ResponseWriter, r *http.Request) {
	var req wire.HoldersRequest
	if err := s.readJSON(w, r, &req); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "holders body: "+err.Error())
		return
	}
	if cn := TerminalOf(r); cn != "" && cn != req.Terminal {
		wire.WriteError(w, http.StatusForbidden, "wrong_terminal", fmt.Sprintf("this certificate belongs to terminal %s, not %s", cn, req.Terminal))
		return
	}
	latest := s.opts.Now().Add(maxHolderSkew)
	future := 0
	for i := range req.Holders {
		h := &req.Holders[i]
		if err := h.Validate(); err != nil {
			// A till validates before it stores: refuse loudly rather than keep junk.
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("holders[%d]: %v", i, err))
			return
		}
		if h.Updated.After(latest) {
			// Dated by a clock ahead of HQ's: taken as the oldest version
			// there is, so it never replaces a holder HQ has nor undoes a
			// forget, and is kept only when HQ has nothing of the card. The
			// store then moves the card on in this terminal's feed, which
			// brings the till HQ's version. Refusing the whole batch instead
			// would hold back the till's other holders at every retry.
			h.Updated = time.Time{}
			future++
		}
	}
	if future > 0 {
		s.log.Warn("holders dated ahead of HQ's clock taken as the oldest versions", "terminal", req.Terminal,
			"holders", future, "allowed_skew", maxHolderSkew)
	}
	n, err := s.opts.Store.PutHolders(r.Context(), req.Terminal, req.Holders)
	if err != nil {
		s.log.Error("store holders", "terminal", req.Terminal, "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot store card holders right now")
		return
	}
	if n > 0 || future > 0 {
		s.wake(r.Context(), TopicCards)
	}
	wire.WriteJSON(w, http.StatusOK, wire.HoldersResponse{Stored: n})
}

// maxCardLen bounds a card number at HQ: a till keeps cards of at most 128
// bytes (ledger.MaxCardLen, pos.CardHolder's card), and a till's scan gives
// at most maxScannedCardLen.
const (
	maxCardLen        = 128
	maxScannedCardLen = 64
)

// CheckCard reports what is wrong with a card number a request names, nil
// when nothing: it must be what a holder's card may be (pos.CardHolder's
// Validate), 1 to 128 bytes of UTF-8 text without control characters or
// spaces around it, so that every card HQ may hold, imported ones included,
// can be looked up and forgotten. The error names the problem, never the
// card in full.
func CheckCard(card string) error {
	switch {
	case card == "":
		return &pos.InputError{Field: "card", Problem: "missing"}
	case len(card) > maxCardLen:
		return &pos.InputError{Field: "card", Problem: fmt.Sprintf("%d bytes, at most %d allowed", len(card), maxCardLen)}
	case strings.TrimSpace(card) != card:
		return &pos.InputError{Field: "card", Problem: "spaces around the number"}
	}
	return pos.CheckText("card", card, maxCardLen)
}

// checkScannedCard is CheckCard for the number a till looked up: a card as
// a till's scan or typed number gives it (till's parseCard, device's
// ParseCard): 1 to 64 printable ASCII characters without spaces (digits of
// a barcode or a PAN, a UID's hex, a code a card pattern captured).
func checkScannedCard(card string) error {
	if err := CheckCard(card); err != nil {
		return err
	}
	if len(card) > maxScannedCardLen {
		return &pos.InputError{Field: "card", Problem: fmt.Sprintf("%d bytes; a till's scan gives at most %d", len(card), maxScannedCardLen)}
	}
	for i := range len(card) {
		if c := card[i]; c <= ' ' || c > '~' {
			return &pos.InputError{Field: "card", Problem: fmt.Sprintf("byte %d is %q; a till's scan gives printable ASCII characters without spaces", i+1, c)}
		}
	}
	return nil
}

// cardParam is the card a route's path names, checked with check; on a bad
// one it answers 400 and returns false.
func cardParam(w http.ResponseWriter, r *http.Request, check func(string) error) (string, bool) {
	card := r.PathValue("card")
	if err := check(card); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return "", false
	}
	return card, true
}

// account answers a terminal's look-up of a card on scan.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	card, ok := cardParam(w, r, checkScannedCard)
	if !ok {
		return
	}
	a, err := s.opts.Store.Account(r.Context(), terminalOf(r), card)
	if err != nil {
		s.log.Error("account", "card", pos.MaskCard(card), "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read accounts right now")
		return
	}
	s.expire(&a)
	s.withLastFeedback(r.Context(), &a)
	wire.WriteJSON(w, http.StatusOK, a)
}

// expire drops from an account the points lots expired by HQ's clock: a
// store keeps a lot until an event of the card comes after its expiry
// (hq.SaleFacts.ApplyLots), and the balance drops on the day all the same.
func (s *Server) expire(a *wire.AccountAnswer) { a.Account.Expire(s.opts.Now()) }

// changesOut readies the accounts of the change feed for a till, in either
// long poll: points expired as of today, and the card's last NPS answer.
func (s *Server) changesOut(ctx context.Context, ch *wire.ChangesAnswer) {
	as := make([]*wire.AccountAnswer, len(ch.Accounts))
	for i := range ch.Accounts {
		s.expire(&ch.Accounts[i])
		as[i] = &ch.Accounts[i]
	}
	s.withLastFeedback(ctx, as...)
}

// changes is the change feed's long poll: ?after=N&wait=S.
func (s *Server) changes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	wait, _ := strconv.Atoi(q.Get("wait"))
	feed, err := feedParam(q)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	terminal := terminalOf(r)
	s.longPoll(w, r, &s.cards, func() bool {
		ch, err := s.opts.Store.Changes(r.Context(), terminal, feed, after, 500)
		switch {
		case err != nil:
			s.log.Error("changes", "terminal", terminal, "err", err)
			wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read accounts right now")
			return true
		case len(ch.Accounts) > 0 || wait <= 0:
			s.changesOut(r.Context(), &ch)
			wire.WriteJSON(w, http.StatusOK, ch)
			return true
		}
		after, feed = ch.Next, ch.Feed // skip what this terminal has not seen
		return false
	}, func() {
		wire.WriteJSON(w, http.StatusOK, wire.ChangesAnswer{Next: after, Accounts: []wire.AccountAnswer{}, Feed: feed})
	})
}

// Limits of a customer import. Rows are read and stored a batch at a time,
// so an import's memory is its batch, the refused rows listed, and the
// cards of the holders read so far (to refuse a card given twice): about
// 50 bytes a holder, hence the cap on holders; a refused row is counted,
// not kept, past the first maxRejectedListed.
const (
	maxImportBytes = 256 << 20
	// maxImportHolders caps the holders of one file: 4 000 000 is more
	// than a file of maxImportBytes holds at 70 bytes a row (a card, a
	// name and a phone), and keeps the cards read at ≈ 200 MB.
	maxImportHolders = 4_000_000
	// maxImportRowBytes bounds a row: encoding/csv keeps a whole row in
	// memory, and a quote left open makes the rest of a file one row.
	maxImportRowBytes = 64 << 10
	// maxRejectedListed is how many refused rows an import lists; the
	// answer counts them all (ImportAnswer.RejectedTotal).
	maxRejectedListed = 1000
	importBatch       = 1000
)

// ImportAnswer is what a customer import answers: wire.ImportReport with
// Rejected holding the first maxRejectedListed refused rows by line, and
// RejectedTotal counting every refused row (Rows is Stored plus
// RejectedTotal).
type ImportAnswer struct {
	wire.ImportReport
}

// reject records a refused row, listing it while the list has room.
func (a *ImportAnswer) reject(row wire.RejectedRow) {
	a.RejectedTotal++
	if len(a.Rejected) < maxRejectedListed {
		a.Rejected = append(a.Rejected, row)
	}
}

func (s *Server) importCustomers(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxImportBytes {
		wire.WriteError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("customer file: %d bytes, at most %d (256 MiB): split it and import each part", r.ContentLength, maxImportBytes))
		return
	}
	now := s.opts.Now().UTC()
	hr, err := newHolderReader(http.MaxBytesReader(w, r.Body, maxImportBytes), now)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	batch, lines := make([]pos.CardHolder, 0, importBatch), make([]int, 0, importBatch)
	rep := &hr.rep
	store := func() error {
		n, err := s.opts.Store.PutHolders(r.Context(), "", batch)
		if err != nil {
			return err
		}
		rep.Stored += n
		if n < len(batch) {
			if err := s.importLosers(r.Context(), batch, lines, rep); err != nil {
				return err
			}
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	for err == nil {
		var h pos.CardHolder
		var line int
		h, line, err = hr.next()
		if err == nil {
			batch, lines = append(batch, h), append(lines, line)
			if len(batch) == importBatch {
				err = store()
			}
		}
	}
	if errors.Is(err, ErrImportFile) || err == io.EOF {
		// The rows read before the end, or before what stopped the reading.
		if len(batch) > 0 {
			if serr := store(); serr != nil {
				err = serr
			}
		}
	}
	if rep.Stored > 0 {
		s.wake(r.Context(), TopicCards) // the tills learn what was stored, whatever stopped the rest
	}
	switch {
	case errors.Is(err, ErrImportFile):
		noteAudit(r, "", fmt.Sprintf("stopped: %v; %d holders stored before", err, rep.Stored))
		wire.WriteError(w, http.StatusBadRequest, "bad_request",
			fmt.Sprintf("%v; HQ stored the %d holders of the rows before it", err, rep.Stored))
		return
	case err != nil && err != io.EOF:
		s.log.Error("import customers", "err", err)
		noteAudit(r, "", fmt.Sprintf("stopped by the store; %d holders stored before", rep.Stored))
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable",
			fmt.Sprintf("HQ stored %d of the holders, then could not store more; importing the file again is safe", rep.Stored))
		return
	}
	slices.SortStableFunc(rep.Rejected, func(a, b wire.RejectedRow) int { return a.Line - b.Line })
	s.log.Info("customers imported", "rows", rep.Rows, "stored", rep.Stored, "rejected", rep.RejectedTotal)
	noteAudit(r, "", fmt.Sprintf("%d rows, %d stored, %d rejected", rep.Rows, rep.Stored, rep.RejectedTotal))
	wire.WriteJSON(w, http.StatusOK, hr.rep)
}

// importLosers adds to rep the rows of a stored batch the store kept its
// own version for: a holder updated after the import began (a till's
// sign-up since, or a version dated ahead before HQ bounded terminals'
// dates), or a forget after it began. Each batch row's card is looked up
// once; batches where every row was stored are not.
func (s *Server) importLosers(ctx context.Context, batch []pos.CardHolder, lines []int, rep *ImportAnswer) error {
	for i, h := range batch {
		a, err := s.opts.Store.Account(ctx, "", h.Card)
		if err != nil {
			return err
		}
		switch {
		case a.Holder != nil && a.Holder.Updated.Equal(h.Updated):
			// stored
		case a.Holder != nil:
			rep.reject(wire.RejectedRow{Line: lines[i], Card: h.Card, Reason: fmt.Sprintf(
				"not stored: HQ holds a version updated %s, later than this import; it stays", a.Holder.Updated.Format(time.RFC3339))})
		case a.Forgotten:
			rep.reject(wire.RejectedRow{Line: lines[i], Card: h.Card, Reason: "not stored: the holder was forgotten after this import began; import the row again to sign them up anew"})
		default:
			rep.reject(wire.RejectedRow{Line: lines[i], Card: h.Card, Reason: "not stored: HQ kept its own record of the card"})
		}
	}
	return nil
}

func (s *Server) showCustomer(w http.ResponseWriter, r *http.Request) {
	card, ok := cardParam(w, r, CheckCard)
	if !ok {
		return
	}
	a, err := s.opts.Store.Account(r.Context(), "", card)
	if err != nil {
		s.log.Error("show customer", "card", pos.MaskCard(card), "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read accounts right now")
		return
	}
	a.Currency = s.currency(r.Context())
	s.expire(&a)
	s.withLastFeedback(r.Context(), &a)
	wire.WriteJSON(w, http.StatusOK, a)
}

// EventCard is the card a sale or refund event names, "" when it names none
// or is of another type.
func EventCard(e event.Event) string {
	if e.Type != event.TypeSale && e.Type != event.TypeRefund {
		return ""
	}
	var v struct {
		Card string `json:"card"`
	}
	if json.Unmarshal(e.Body, &v) != nil {
		return ""
	}
	return v.Card
}

// currency is the current ruleset's currency, "" when there is none (or it
// cannot be read, which publishing prevents).
func (s *Server) currency(ctx context.Context) string {
	rs, err := s.opts.Store.CurrentRuleset(ctx)
	if err != nil {
		return ""
	}
	parsed, err := rulesfile.Parse(rs.Raw)
	if err != nil {
		return ""
	}
	return parsed.Currency.Code
}

func (s *Server) forgetCustomer(w http.ResponseWriter, r *http.Request) {
	card, ok := cardParam(w, r, CheckCard)
	if !ok {
		return
	}
	noteAudit(r, pos.MaskCard(card), "forget")
	had, err := s.opts.Store.ForgetHolder(r.Context(), card, s.opts.Now())
	if err != nil {
		s.log.Error("forget customer", "card", pos.MaskCard(card), "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ could not forget the customer; try again")
		return
	}
	s.wake(r.Context(), TopicCards)
	s.log.Info("customer forgotten", "card", pos.MaskCard(card), "had_holder", had)
	wire.WriteJSON(w, http.StatusOK, map[string]any{"card": card, "forgotten": had})
}

func (s *Server) reportOverdrafts(w http.ResponseWriter, r *http.Request) {
	od, err := s.opts.Store.Overdrafts(r.Context())
	if err != nil {
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	wire.WriteJSON(w, http.StatusOK, wire.OverdraftReport{Cards: od})
}

// holderColumns are the columns of an import file, by header name.
var holderColumns = map[string]func(h *pos.CardHolder, v string) error{
	"card":       func(h *pos.CardHolder, v string) error { h.Card = v; return nil },
	"name":       func(h *pos.CardHolder, v string) error { h.Name = v; return nil },
	"patronymic": func(h *pos.CardHolder, v string) error { h.Patronymic = v; return nil },
	"surname":    func(h *pos.CardHolder, v string) error { h.Surname = v; return nil },
	"birthday":   func(h *pos.CardHolder, v string) error { h.Birthday = v; return nil },
	"phone":      func(h *pos.CardHolder, v string) error { h.Phone = v; return nil },
	"email":      func(h *pos.CardHolder, v string) error { h.Email = v; return nil },
	"lang":       func(h *pos.CardHolder, v string) error { h.Lang = v; return nil },
	"consent": func(h *pos.CardHolder, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "0", "no", "false", "нет":
			h.Consent = false
		case "1", "yes", "true", "да":
			h.Consent = true
		default:
			return &pos.InputError{Field: "consent", Problem: fmt.Sprintf("%q: want yes or no", v)}
		}
		return nil
	},
}

// ErrImportFile is a file that cannot be imported at all (as opposed to rows
// that are refused one by one).
var ErrImportFile = errors.New("customer file")

// ParseHolders reads a customer base in CSV: a header row naming the columns
// (card, name, patronymic, surname, birthday, phone, email, consent, lang; card
// and name are required, any order, "," or ";" between fields), then one holder
// per row. A row that is not a valid holder, or repeats a card of an earlier
// row, is refused with its line number and why; the others are returned with
// Registered and Updated set to now. A file without a usable header is
// ErrImportFile, and so is one past maxImportHolders holders or with a row longer
// than maxImportRowBytes (the rows before are returned with the error).
//
// HQ's import reads a file the same way a batch at a time (holderReader);
// ParseHolders holds every holder of the file at once.
func ParseHolders(r io.Reader, now time.Time) ([]pos.CardHolder, ImportAnswer, error) {
	hr, err := newHolderReader(r, now)
	if err != nil {
		return nil, ImportAnswer{ImportReport: wire.ImportReport{Rejected: []wire.RejectedRow{}}}, err
	}
	var out []pos.CardHolder
	for {
		h, _, err := hr.next()
		switch {
		case err == io.EOF:
			return out, hr.rep, nil
		case err != nil:
			return out, hr.rep, err
		}
		out = append(out, h)
	}
}

// holderReader reads a customer file (ParseHolders' format) row by row,
// holding one row of the file at a time.
type holderReader struct {
	cr      *csv.Reader
	setters []func(*pos.CardHolder, string) error
	now     time.Time
	// cards are the cards of the rows returned so far, each with its line,
	// to refuse a card given twice. Keys are copies: a field of a row
	// shares the memory of the whole row.
	cards map[string]int32
	guard *rowGuard
	line  int // of the last row read whole
	rep   ImportAnswer
}

// errRowTooLong stops the reading of a file at a row longer than
// maxImportRowBytes.
var errRowTooLong = errors.New("row too long")

// rowGuard reads a file for a csv.Reader and fails once the reader has
// taken more than max bytes past the start of the row it is reading (start,
// set after each row: the reader's InputOffset moves on at every line, also
// inside a quoted field left open, which makes the rest of a file one row),
// beside what the reader buffers ahead.
type rowGuard struct {
	r     io.Reader
	read  int64
	start int64
	max   int64
}

// csvBuffered is what a csv.Reader reads ahead of its row (its bufio.Reader).
const csvBuffered = 4096

func (g *rowGuard) Read(p []byte) (int, error) {
	if g.read-g.start > g.max+csvBuffered {
		return 0, errRowTooLong
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// newHolderReader reads the file's header row; a header that is not
// usable is ErrImportFile.
func newHolderReader(r io.Reader, now time.Time) (*holderReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		br.Discard(3) // a spreadsheet's byte order mark
	}
	guard := &rowGuard{r: br, max: maxImportRowBytes}
	cr := csv.NewReader(guard)
	head, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	if bytes.Count(head, []byte(";")) > bytes.Count(head, []byte(",")) {
		cr.Comma = ';' // what spreadsheets in Russian locales write
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	hr := &holderReader{cr: cr, guard: guard, now: now.UTC(), cards: map[string]int32{},
		rep: ImportAnswer{ImportReport: wire.ImportReport{Rejected: []wire.RejectedRow{}}}}
	header, err := cr.Read()
	guard.start = cr.InputOffset()
	if err != nil {
		if errors.Is(err, errRowTooLong) {
			err = fmt.Errorf("longer than %d bytes", maxImportRowBytes)
		}
		return nil, fmt.Errorf("%w: header row: %v", ErrImportFile, err)
	}
	hr.setters = make([]func(*pos.CardHolder, string) error, len(header))
	have := map[string]bool{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		set, ok := holderColumns[name]
		if !ok {
			return nil, fmt.Errorf("%w: header column %d %q is not one of card, name, patronymic, surname, birthday, phone, email, consent, lang", ErrImportFile, i+1, name)
		}
		if have[name] {
			return nil, fmt.Errorf("%w: header names column %q twice", ErrImportFile, name)
		}
		have[name] = true
		hr.setters[i] = set
	}
	for _, need := range []string{"card", "name"} {
		if !have[need] {
			return nil, fmt.Errorf("%w: the header has no %q column", ErrImportFile, need)
		}
	}
	return hr, nil
}

// next returns the next valid holder of the file and its line, refusing
// the rows before it that are not one into the report; io.EOF at the end.
func (hr *holderReader) next() (pos.CardHolder, int, error) {
	for {
		rec, err := hr.cr.Read()
		hr.guard.start = hr.cr.InputOffset()
		if err == io.EOF {
			return pos.CardHolder{}, 0, io.EOF
		}
		var pe *csv.ParseError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &pe):
			hr.line = pe.Line
			hr.rep.Rows++
			hr.rep.reject(wire.RejectedRow{Line: pe.StartLine, Reason: pe.Err.Error()})
			continue
		case errors.Is(err, errRowTooLong):
			return pos.CardHolder{}, 0, fmt.Errorf("%w: a row after line %d is longer than %d bytes (a quote left open?)",
				ErrImportFile, hr.line, maxImportRowBytes)
		case errors.As(err, &mbe):
			return pos.CardHolder{}, 0, fmt.Errorf("%w: larger than %d bytes (256 MiB), after line %d: split it and import each part",
				ErrImportFile, mbe.Limit, hr.line)
		case err != nil:
			return pos.CardHolder{}, 0, fmt.Errorf("%w: %v", ErrImportFile, err)
		}
		line, _ := hr.cr.FieldPos(0)
		hr.line = line
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // an empty line
		}
		hr.rep.Rows++
		if len(rec) != len(hr.setters) {
			hr.rep.reject(wire.RejectedRow{Line: line, Reason: fmt.Sprintf("%d fields, the header has %d", len(rec), len(hr.setters))})
			continue
		}
		var h pos.CardHolder
		var bad error
		for i, v := range rec {
			if err := hr.setters[i](&h, v); err != nil && bad == nil {
				bad = err
			}
		}
		if bad == nil {
			bad = h.ValidateAt(hr.now)
		}
		if bad != nil {
			hr.rep.reject(wire.RejectedRow{Line: line, Card: strings.TrimSpace(h.Card), Reason: bad.Error()})
			continue
		}
		if prev, dup := hr.cards[h.Card]; dup {
			hr.rep.reject(wire.RejectedRow{Line: line, Card: h.Card, Reason: fmt.Sprintf("card already on line %d", prev)})
			continue
		}
		if len(hr.cards) >= maxImportHolders {
			hr.rep.Rows--
			return pos.CardHolder{}, 0, fmt.Errorf("%w: more than %d holders, line %d on not read: split it and import each part",
				ErrImportFile, maxImportHolders, line)
		}
		hr.cards[strings.Clone(h.Card)] = int32(line)
		h.Registered, h.Updated = hr.now, hr.now
		return h, line, nil
	}
}

// Bounds of the customer page's answers.
const (
	searchLimit    = 50
	purchasesLimit = 100
	maxPurchases   = 1000
)

// findCustomers answers ?phone=: the holders whose phone ends with its
// digits. Every search is in the admin log with who searched, the last
// digits searched and how many were found.
func (s *Server) findCustomers(w http.ResponseWriter, r *http.Request) {
	phone := r.URL.Query().Get("phone")
	digits := PhoneDigits(phone)
	if strings.Trim(phone, "0123456789+-() .") != "" {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("phone %q: digits, spaces, +, -, ( and ) only", phone))
		return
	}
	if len(digits) < MinPhoneDigits || len(digits) > 15 {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("phone: %d digits; give the last %d to 15 digits of the number", len(digits), MinPhoneDigits))
		return
	}
	hs, err := s.opts.Store.HoldersByPhone(r.Context(), digits, searchLimit+1)
	note := auditNote{target: "phone " + pos.MaskPhone(digits)}
	if err != nil {
		s.log.Error("find customers", "err", err)
		note.detail = "failed"
		s.logAdmin(r, callerOf(r), "GET "+wire.PathAdminCustomers, note, "failed", http.StatusServiceUnavailable)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot read its store right now")
		return
	}
	ans := wire.CustomerSearch{Customers: []wire.FoundCustomer{}, Limit: searchLimit, More: len(hs) > searchLimit}
	for _, h := range hs[:min(len(hs), searchLimit)] {
		name := strings.Join(strings.Fields(h.Name+" "+h.Patronymic+" "+h.Surname), " ")
		ans.Customers = append(ans.Customers, wire.FoundCustomer{Card: h.Card, Name: name, Phone: pos.MaskPhone(h.Phone)})
	}
	note.detail = fmt.Sprintf("%d found", len(ans.Customers))
	s.logAdmin(r, callerOf(r), "GET "+wire.PathAdminCustomers, note, "ok", http.StatusOK)
	wire.WriteJSON(w, http.StatusOK, ans)
}

// purchasesAnswer is the customer page's list of purchases with the number
// of the card's events HQ holds that did not read as a sale or a return
// (each is in HQ's log with its terminal and seq).
type purchasesAnswer struct {
	wire.CardPurchases
	Unreadable int `json:"unreadable,omitempty"`
}

// customerPurchases answers the card's sales and returns across stores,
// newest first: ?limit=N (default 100, at most 1000). An event HQ holds that
// does not read (a terminal's body HQ acked but cannot parse) is left out
// and counted, as the audit does, so that one bad upload cannot take the
// card's page down for good.
func (s *Server) customerPurchases(w http.ResponseWriter, r *http.Request) {
	card, ok := cardParam(w, r, CheckCard)
	if !ok {
		return
	}
	limit := purchasesLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPurchases {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want 1 to %d", v, maxPurchases))
			return
		}
		limit = n
	}
	evs, err := s.opts.Store.CardEvents(r.Context(), card, limit+1)
	if err != nil {
		s.storeError(w, "card purchases", err)
		return
	}
	ans := purchasesAnswer{CardPurchases: wire.CardPurchases{Card: card, Purchases: []wire.CardPurchase{}, Limit: limit, More: len(evs) > limit}}
	stores := map[string]string{}
	for _, e := range evs[:min(len(evs), limit)] {
		p, store, err := purchase(e)
		if err != nil {
			s.log.Warn("card purchases: an event HQ holds does not read; left out", "card", pos.MaskCard(card),
				"terminal", e.Terminal, "seq", e.Seq, "err", err)
			ans.Unreadable++
			continue
		}
		if store != "" && stores[e.Terminal] == "" {
			stores[e.Terminal] = store
		}
		ans.Purchases = append(ans.Purchases, p)
	}
	for i := range ans.Purchases {
		if p := &ans.Purchases[i]; p.Store == "" {
			p.Store = stores[p.Terminal]
		}
	}
	wire.WriteJSON(w, http.StatusOK, ans)
}

// purchase reads a sale or refund event as a line of the customer page,
// and the store its till named ("" for a refund, which names none).
func purchase(e CardEvent) (wire.CardPurchase, string, error) {
	p := wire.CardPurchase{At: e.At, Terminal: e.Terminal, Receipt: pos.ReceiptCode(e.ID, e.Hash)}
	switch e.Type {
	case event.TypeSale:
		var sale pos.Sale
		if err := json.Unmarshal(e.Body, &sale); err != nil {
			return p, "", err
		}
		p.Kind, p.Currency, p.Total, p.Discount = "sale", sale.Currency, sale.Total, sale.Discount
		p.Earned, p.Spent = sale.PointsEarned, sale.PointsRedeemed
		if sale.Inputs != nil {
			p.Store = sale.Inputs.Store
		}
		return p, p.Store, nil
	case event.TypeRefund:
		var ref pos.Refund
		if err := json.Unmarshal(e.Body, &ref); err != nil {
			return p, "", err
		}
		p.Kind, p.Currency, p.Total = "return", ref.Currency, -ref.Back
		p.Earned, p.Spent, p.Of = -ref.PointsReversed, -ref.PointsReturned, ref.SaleEvent
		return p, "", nil
	}
	return p, "", fmt.Errorf("a %s event is no sale or return", e.Type)
}
