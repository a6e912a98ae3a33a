package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/internal/jsonscan"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// The decoders in this file read bytes from the file and must never panic on
// damaged input: FuzzDecode holds them to it.

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// seqKey decodes a big-endian uint64 key or value.
func seqKey(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("want 8 bytes for a big-endian number, got %d", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// canonicalBody returns body compacted and escaped exactly as encoding/json's
// Marshal writes a json.RawMessage, so that re-encoding an event never changes the
// bytes its hash covers. It refuses what is not valid UTF-8 JSON. A body
// already canonical (json.Marshal's output, as the till's sales are) is
// returned as it is, not copied, after one pass that does not allocate.
func canonicalBody(body []byte) (json.RawMessage, error) {
	if len(body) == 0 {
		return nil, errors.New("empty body")
	}
	if canonicalAsIs(body) {
		return body, nil
	}
	if !utf8.Valid(body) {
		return nil, errors.New("body is not valid UTF-8")
	}
	compact := bytes.NewBuffer(make([]byte, 0, len(body)))
	if err := json.Compact(compact, body); err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %w", err)
	}
	if !needsHTMLEscape(compact.Bytes()) {
		return compact.Bytes(), nil
	}
	var out bytes.Buffer
	out.Grow(compact.Len() + 16)
	json.HTMLEscape(&out, compact.Bytes())
	return out.Bytes(), nil
}

// canonicalAsIs reports whether body is canonical as it is: one JSON value,
// valid UTF-8, no white space between its tokens, nothing json.HTMLEscape
// would change. Compact and HTMLEscape leave such a body byte for byte.
func canonicalAsIs(body []byte) bool {
	var s jsonscan.Scanner
	s.Reset(body)
	for {
		t, err := s.Next()
		switch {
		case err != nil || t.BadUTF8() || t.HTML():
			return false
		case t.Kind == jsonscan.None:
			return !s.Spaced()
		}
	}
}

// needsHTMLEscape reports whether json.HTMLEscape would change b: whether it
// holds <, >, & or U+2028 or U+2029 (E2 80 A8, E2 80 A9).
func needsHTMLEscape(b []byte) bool {
	return bytes.ContainsAny(b, "<>&") || bytes.Contains(b, lineSep) || bytes.Contains(b, paraSep)
}

var lineSep, paraSep = []byte("\u2028"), []byte("\u2029")

// encodeEvent encodes e as json.Marshal does. e.Body must be canonical (see
// canonicalBody): the common event, ASCII strings and a time of years 0-9999,
// is written directly, without encoding/json compacting the body again.
func encodeEvent(e *event.Event) ([]byte, error) {
	strs := [...]string{e.Terminal, e.ID, e.Type, e.RulesetHash, e.Prev, e.Hash}
	size := 160 + len(e.Body)
	for _, s := range strs {
		if !plainJSON(s) {
			return marshalEvent(e)
		}
		size += len(s)
	}
	if y := e.At.Year(); y < 0 || y > 9999 || len(e.Body) == 0 {
		return marshalEvent(e)
	}
	b := make([]byte, 0, size)
	b = append(append(append(b, `{"terminal":"`...), e.Terminal...), `","seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(append(append(b, `,"id":"`...), e.ID...), `","type":"`...)
	b = append(append(b, e.Type...), `","at":"`...)
	b = e.At.AppendFormat(b, time.RFC3339Nano)
	b = strconv.AppendInt(append(b, `","ruleset_version":`...), e.RulesetVersion, 10)
	if e.RulesetHash != "" {
		b = append(append(append(b, `,"ruleset_hash":"`...), e.RulesetHash...), '"')
	}
	if e.Prev != "" {
		b = append(append(append(b, `,"prev":"`...), e.Prev...), '"')
	}
	b = append(append(append(b, `,"hash":"`...), e.Hash...), `","body":`...)
	return append(append(b, e.Body...), '}'), nil
}

func marshalEvent(e *event.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", e.Seq, err)
	}
	return b, nil
}

// plainJSON reports whether encoding/json writes s as is between quotes:
// printable ASCII but ", \, <, > and &.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodeEvent decodes a stored event. The result does not alias b (bbolt's memory
// is only valid inside its transaction).
func decodeEvent(b []byte) (event.Event, error) {
	var e event.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return event.Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}

// effect is what one event did to its card's account, and which sale id it
// recorded.
type effect struct {
	card   string
	saleID string
	spend  money.Amount
	points int64
}

// effectHeader is spend (8 bytes), points (8) and the card's length (1).
const effectHeader = 17

// encodeEffect writes spend and points as big-endian int64, the card's length
// in one byte, the card, then the sale id. MaxCardLen fits the byte.
func encodeEffect(f effect) []byte {
	b := make([]byte, effectHeader, effectHeader+len(f.card)+len(f.saleID))
	binary.BigEndian.PutUint64(b[0:8], uint64(f.spend))
	binary.BigEndian.PutUint64(b[8:16], uint64(f.points))
	b[16] = byte(len(f.card))
	return append(append(b, f.card...), f.saleID...)
}

// effectCard is the card of an encoded effect (see decodeEffect), without a
// copy.
func effectCard(b []byte) ([]byte, error) {
	if len(b) < effectHeader {
		return nil, fmt.Errorf("decode effect: want at least %d bytes, got %d", effectHeader, len(b))
	}
	n := int(b[16])
	if len(b) < effectHeader+n {
		return nil, fmt.Errorf("decode effect: card of %d bytes in a record of %d", n, len(b))
	}
	return b[effectHeader : effectHeader+n], nil
}

func decodeEffect(b []byte) (effect, error) {
	card, err := effectCard(b)
	if err != nil {
		return effect{}, err
	}
	return effect{
		spend:  money.Amount(int64(binary.BigEndian.Uint64(b[0:8]))),
		points: int64(binary.BigEndian.Uint64(b[8:16])),
		card:   string(card),
		saleID: string(b[effectHeader+len(card):]),
	}, nil
}

// decodeEffectV1 decodes an effect of schema 1: spend, points, then the card,
// without the sale id.
func decodeEffectV1(b []byte) (effect, error) {
	if len(b) < 16 {
		return effect{}, fmt.Errorf("decode effect: want at least 16 bytes, got %d", len(b))
	}
	return effect{
		spend:  money.Amount(int64(binary.BigEndian.Uint64(b[0:8]))),
		points: int64(binary.BigEndian.Uint64(b[8:16])),
		card:   string(b[16:]),
	}, nil
}

// saleRef is the sales index entry of one client sale id.
type saleRef struct {
	seq    uint64
	digest [32]byte
}

const saleRefLen = 8 + 32

func encodeSaleRef(r saleRef) []byte {
	b := make([]byte, saleRefLen)
	binary.BigEndian.PutUint64(b[:8], r.seq)
	copy(b[8:], r.digest[:])
	return b
}

func decodeSaleRef(b []byte) (saleRef, error) {
	if len(b) != saleRefLen {
		return saleRef{}, fmt.Errorf("decode sale index entry: want %d bytes, got %d", saleRefLen, len(b))
	}
	var r saleRef
	r.seq = binary.BigEndian.Uint64(b[:8])
	copy(r.digest[:], b[8:])
	if r.seq == 0 {
		return saleRef{}, errors.New("decode sale index entry: seq 0")
	}
	return r, nil
}

// encodeAccount stores what the ledger keeps of an account view: never the
// holder's personal data (kept in the holders bucket) nor what a till works out
// for one quote (Offline, OfflineRedeemedToday).
//
// An account without points lots is its JSON. One with lots (schema 4) is
// accountLotsTag, the number of lots (uvarint), each lot in lotBytes (its
// points, big-endian, and its earned and expires times: appendLotTime), then
// the rest of the account as JSON. A sale reads and writes its card's
// account, and the lots are what make one long: a card that earned at a
// thousand sales within its points' expiry has a thousand lots. As JSON, a
// sale of the card took 2.6–2.9 ms, nearly all of it the lots decoded and
// encoded again; so it takes 0.2–0.5 ms (docs/benchmarks.md, "Lots"). An
// account's bytes are a view, never hashed: Verify compares decoded
// accounts.
//
// The JSON goes through go-json-experiment's v1 package (encoding/json's
// rules on the v2 engine, twice as fast). TestAccountCodec holds an account
// without lots to encoding/json's bytes and every account, decoded, to what
// encoding/json reads back from its JSON, lots and their times' zones
// included; decodeAccount reads JSON as encoding/json does
// (FuzzAccountCodec), so the files of earlier schemas read the same.
func encodeAccount(a pos.Account) ([]byte, error) {
	a.Profile, a.Offline, a.OfflineRedeemedToday = nil, false, 0
	lots := a.Lots
	a.Lots = nil
	var b []byte
	if len(lots) > 0 {
		b = make([]byte, 0, 128+lotBytes*len(lots))
		b = append(b, accountLotsTag)
		b = binary.AppendUvarint(b, uint64(len(lots)))
		for i, l := range lots {
			b = binary.BigEndian.AppendUint64(b, uint64(l.Points))
			var err error
			if b, err = appendLotTime(b, l.Earned); err != nil {
				return nil, fmt.Errorf("encode account: lot %d: earned: %w", i, err)
			}
			if b, err = appendLotTime(b, l.Expires); err != nil {
				return nil, fmt.Errorf("encode account: lot %d: expires: %w", i, err)
			}
		}
	}
	j, err := jsonv1.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode account: %w", err)
	}
	if b == nil {
		return j, nil
	}
	return append(b, j...), nil
}

// accountLotsTag starts an account record with its lots in binary; JSON
// never starts with it.
const accountLotsTag = 0x01

// lotBytes is the size of a lot: its points (8 bytes) and its two times
// (appendLotTime).
const lotBytes = 8 + 2*lotTimeBytes

// lotTimeBytes is the size of a lot's time: seconds (8), nanoseconds (4)
// and zone (2).
const lotTimeBytes = 14

// appendLotTime appends t as its JSON says it (RFC 3339, what
// time.Time.MarshalJSON writes), in lotTimeBytes: the Unix seconds (int64),
// the nanoseconds (uint32) and the zone (int16): 0 for "Z" (offset 0), else
// 2m+1 for an offset of m whole minutes. Integers are big-endian. RFC 3339 writes the wall clock and the offset
// without its seconds, so a time whose offset has seconds reads back that
// much later or earlier: so is it written here. A time JSON cannot write (a
// year outside 0–9999, an offset of a day or more) is refused, as
// encoding/json refuses it.
func appendLotTime(b []byte, t time.Time) ([]byte, error) {
	_, off := t.Zone()
	m := int64(off / 60) // toward zero, as RFC 3339 formatting does
	if m <= -24*60 || m >= 24*60 {
		return b, fmt.Errorf("zone offset %ds: a day or more", off)
	}
	wall := t.Unix() + int64(off)
	if wall < wallYear0 || wall >= wallYear10000 {
		return b, fmt.Errorf("year %d outside 0–9999", t.Year())
	}
	b = binary.BigEndian.AppendUint64(b, uint64(wall-m*60)) // the instant the text reads back as
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	zone := int16(0)
	if off != 0 {
		zone = int16(2*m + 1)
	}
	return binary.BigEndian.AppendUint16(b, uint16(zone)), nil
}

// readLotTime reads what appendLotTime wrote at the start of b and returns
// the time as encoding/json reads its RFC 3339 text back: in UTC for "Z";
// else in Local when Local has that offset at that time, else in a zone of
// the offset with no name (time.Parse).
func readLotTime(b []byte) (time.Time, error) {
	sec := int64(binary.BigEndian.Uint64(b))
	nsec := binary.BigEndian.Uint32(b[8:])
	zone := int64(int16(binary.BigEndian.Uint16(b[12:])))
	if nsec >= 1e9 {
		return time.Time{}, errors.New("bad nanoseconds")
	}
	if zone != 0 && (zone%2 == 0 || zone <= -2*24*60 || zone >= 2*24*60) {
		return time.Time{}, errors.New("bad zone")
	}
	off := int64(0)
	if zone != 0 {
		off = (zone - 1) / 2 * 60
	}
	if wall := sec + off; wall < wallYear0 || wall >= wallYear10000 { // an overflow lands outside too
		return time.Time{}, errors.New("a year outside 0–9999")
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if zone == 0 {
		return t, nil
	}
	if _, local := t.In(time.Local).Zone(); local == int(off) {
		return t.In(time.Local), nil
	}
	return t.In(time.FixedZone("", int(off))), nil
}

// wallYear0 and wallYear10000 are the Unix seconds of the first moments of
// the years 0 and 10000 on a wall clock: RFC 3339 writes the years between.
var (
	wallYear0     = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	wallYear10000 = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

func decodeAccount(b []byte) (pos.Account, error) {
	var lots []pos.PointsLot
	if len(b) > 0 && b[0] == accountLotsTag {
		var err error
		if lots, b, err = decodeLots(b[1:]); err != nil {
			return pos.Account{}, fmt.Errorf("decode account: %w", err)
		}
	}
	var a pos.Account
	if err := jsonv1.Unmarshal(b, &a); err != nil {
		return pos.Account{}, fmt.Errorf("decode account: %w", err)
	}
	if lots != nil {
		if a.Lots != nil {
			return pos.Account{}, errors.New("decode account: lots both in binary and in the JSON")
		}
		a.Lots = lots
	}
	return a, nil
}

// decodeLots reads the binary lots of an account record and returns the
// rest, its JSON.
func decodeLots(b []byte) ([]pos.PointsLot, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > uint64(len(b)-k)/lotBytes {
		return nil, nil, errors.New("lots: bad count at byte 1")
	}
	b = b[k:]
	lots := make([]pos.PointsLot, n)
	for i := range lots {
		l := b[:lotBytes]
		lots[i].Points = int64(binary.BigEndian.Uint64(l))
		var err error
		if lots[i].Earned, err = readLotTime(l[8:]); err != nil {
			return nil, nil, fmt.Errorf("lot %d of %d: earned: %w", i, n, err)
		}
		if lots[i].Expires, err = readLotTime(l[8+lotTimeBytes:]); err != nil {
			return nil, nil, fmt.Errorf("lot %d of %d: expires: %w", i, n, err)
		}
		b = b[lotBytes:]
	}
	return lots, b, nil
}

// birthdayBonusKey is how encoding/json writes pos.Quote's BirthdayBonus; a
// sale body is canonical JSON (canonicalBody), so the key is written so.
var birthdayBonusKey = []byte(`"birthday_bonus":`)

// bodyCard returns the "card" member of a sale body, and whether the body is a
// JSON object at all (a body that is not says nothing about its card).
func bodyCard(body []byte) (card string, isObject bool) {
	var v struct {
		Card string `json:"card"`
	}
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &v) != nil {
		return "", false
	}
	return v.Card, true
}
