// Package wire defines what terminals and HQ say to each other over HTTP: the
// paths, the JSON bodies and the headers. Both sides import it, so a change here
// is a protocol change: keep it backward compatible within /v1/.
package wire

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// Paths on HQ.
const (
	// PathUpload takes a batch of one terminal's ledger events (POST, UploadRequest).
	PathUpload = "/v1/sync/upload"
	// PathRules answers the current ruleset (GET). With ?after=N it waits up to
	// ?wait=SECONDS (long poll) for a version newer than N and answers 204 when none came.
	PathRules = "/v1/rules"
	// PathReportSales answers per-terminal sales totals (GET, SalesReport).
	PathReportSales = "/v1/report/sales"
)

// Headers carried on ruleset answers, so the TOML body stays byte for byte what HQ
// staff published.
const (
	HeaderRulesVersion = "Tilld-Rules-Version"
	HeaderRulesHash    = "Tilld-Rules-Hash"
)

// UploadRequest is a batch of consecutive events of one terminal, oldest first,
// filed under the terminal's chain Epoch (the zero Epoch: its first chain).
type UploadRequest struct {
	Terminal string        `json:"terminal"`
	Epoch    event.Epoch   `json:"epoch,omitzero"`
	Events   []event.Event `json:"events"`
}

// UploadResponse tells the terminal the highest seq such that HQ holds every
// event 1..Acked of the terminal's chain byte for byte (HQ compares hashes, and
// a hash covers the one before). Events above it must be sent again. It is never
// above the last event the upload carried.
type UploadResponse struct {
	Acked uint64 `json:"acked"`
	// Fork is set on a 409 "fork" answer: HQ holds another event under a seq
	// the upload carries.
	Fork *Fork `json:"fork,omitempty"`
}

// Fork says where a terminal's upload parts from what HQ holds of the same
// chain: HQ holds every event 1..At-1 as the terminal has them and another
// event under At. A terminal restored from a backup, or started empty, gets
// this; it continues in a new epoch based on event At-1, and HQ keeps both.
type Fork struct {
	Epoch    string `json:"epoch"`     // the epoch the upload named
	At       uint64 `json:"at"`        // the first seq whose event differs
	HeadSeq  uint64 `json:"head_seq"`  // where HQ's copy of that chain ends
	HeadHash string `json:"head_hash"` // and the hash of its last event
}

// Error codes of a 409 answer to an upload.
const (
	CodeFork        = "fork"         // see Fork
	CodeBrokenChain = "broken_chain" // an event does not link: tampering or a bug
)

// TerminalSales is one terminal's line of the sales report: the sales of
// every chain (epoch) HQ holds of it, and each chain on its own.
type TerminalSales struct {
	Terminal string `json:"terminal"`
	Count    int64  `json:"count"`
	MaxSeq   uint64 `json:"max_seq"` // the head chain's acked seq
	Total    int64  `json:"total"`
	// Refunds is the returns recorded against the sales, Refunded the money
	// they took off them, Net what stays sold: Total - Refunded.
	Refunds  int64  `json:"refunds"`
	Refunded int64  `json:"refunded"`
	Net      int64  `json:"net"`
	Currency string `json:"currency,omitempty"`
	// Chains lists the terminal's chains, the first one first; more than one
	// means the terminal was restored from a backup or started empty.
	Chains []Chain `json:"chains,omitempty"`
}

// Chain is one of a terminal's chains as HQ holds it.
type Chain struct {
	Epoch event.Epoch `json:"epoch"`
	// BaseVerified says HQ held the parent's event BaseSeq with BaseHash when
	// the epoch began; false means events between what HQ held and the base
	// are missing at HQ (a ledger restored from a backup newer than HQ's copy).
	BaseVerified bool      `json:"base_verified"`
	Acked        uint64    `json:"acked"`
	Hash         string    `json:"hash,omitempty"`
	Count        int64     `json:"count"`
	Total        int64     `json:"total"`
	Refunds      int64     `json:"refunds"`
	Refunded     int64     `json:"refunded"`
	Net          int64     `json:"net"`
	Created      time.Time `json:"created,omitzero"`
	LastUpload   time.Time `json:"last_upload,omitzero"`
	// Head marks the chain the terminal uploaded to last.
	Head bool `json:"head,omitempty"`
}

// SalesReport is the answer of PathReportSales.
type SalesReport struct {
	Terminals []TerminalSales `json:"terminals"`
}

// Error is the body of every non-2xx answer, from HQ and from tilld's local API.
// Message is safe to show a person; Code is stable for programs.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"error"`
}

// Paths for a terminal to rebuild its ledger from HQ's copy of its chain.
const (
	// PathChains lists the calling terminal's chains (GET, ChainsAnswer).
	PathChains = "/v1/sync/chains"
	// PathChain answers events of one of the calling terminal's chains after
	// ?after=N (GET ?epoch=E, ChainAnswer), its parents' events up to its base
	// included: the whole history a ledger of that epoch holds.
	PathChain = "/v1/sync/chain"
)

// ChainsAnswer is the answer of PathChains.
type ChainsAnswer struct {
	Terminal string  `json:"terminal"`
	Chains   []Chain `json:"chains"`
}

// ChainAnswer is a page of a chain's events; more follow when Events is full
// (continue with ?after= the last seq) until the last seq is Chain.Acked.
type ChainAnswer struct {
	Chain  Chain         `json:"chain"`
	Events []event.Event `json:"events"`
}

// PathEnroll takes a one-time token and a CSR and answers the terminal's
// certificate (POST, EnrollRequest → EnrollResponse).
const PathEnroll = "/v1/enroll"

// EnrollRequest is a terminal asking to join the chain.
type EnrollRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"` // PEM
}

// EnrollResponse gives the terminal its identity and what it must trust.
type EnrollResponse struct {
	Terminal    string `json:"terminal"`
	Store       string `json:"store"`
	Certificate string `json:"certificate"` // PEM, the terminal's client certificate
	CA          string `json:"ca"`          // PEM, HQ's CA: the only root the terminal trusts
	RulesKey    string `json:"rules_key"`   // base64 Ed25519 public key that signs rulesets
}

// Admin paths, served on HQ's admin listener (loopback) only.
const (
	// PathAdminRules publishes a ruleset (POST, the TOML file).
	PathAdminRules = "/v1/admin/rules"
	// PathAdminTerminals creates an enrollment token (POST, AddTerminalRequest).
	PathAdminTerminals = "/v1/admin/terminals"
)

// AddTerminalRequest asks HQ for a terminal's one-time enrollment token.
type AddTerminalRequest struct {
	Store    string `json:"store"`
	Terminal string `json:"terminal"`
	TTL      string `json:"ttl,omitempty"` // Go duration, default 24h
}

// AddTerminalResponse carries the token to hand to store IT.
type AddTerminalResponse struct {
	Token   string `json:"token"`
	Expires string `json:"expires"`
}

// WriteJSON answers v as JSON with the status; both HQ and tilld's local API
// answer through it.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers an Error: a stable code and a message for a person.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, Error{Code: code, Message: msg})
}

// Card accounts and card holders: what HQ aggregates from every terminal.
const (
	// PathHolders takes card holders registered at a terminal (POST,
	// HoldersRequest); HQ keeps the newest version of each.
	PathHolders = "/v1/sync/holders"
	// PathAccountPrefix + card answers the card's account across every store
	// (GET, AccountAnswer). HQ remembers that the terminal has seen the card.
	PathAccountPrefix = "/v1/accounts/"
	// PathChanges answers the accounts of cards the terminal has seen that
	// changed after ?after=N (GET, ChangesAnswer); with ?wait=S it waits up
	// to S seconds for one. With ?feed=ID, N is a position in the feed of
	// that identity (ChangesAnswer.Feed): of another feed, or past the
	// feed's head, it reads from the start.
	PathChanges = "/v1/sync/changes"
	// PathSalePrefix + receipt code answers the sale the code names, made at
	// any terminal (GET, SaleAnswer): a return at another till.
	PathSalePrefix = "/v1/sales/"
)

// SaleAnswer is a sale HQ holds, for a till taking it back: its event as
// its terminal uploaded it (the till checks its hash and that the receipt
// code names it), and the units of each of its lines (index 0 is line 1)
// that refunds from terminals other than the asking one returned.
type SaleAnswer struct {
	Event    event.Event `json:"event"`
	Returned []int64     `json:"returned"`
}

// HoldersRequest carries card holders a terminal registered, with the time
// each was last changed there.
type HoldersRequest struct {
	Terminal string           `json:"terminal"`
	Holders  []pos.CardHolder `json:"holders"`
}

// HoldersResponse says how many of the holders HQ stored; the others were
// older than what HQ has or were forgotten since, and are settled too.
type HoldersResponse struct {
	Stored int `json:"stored"`
}

// AccountAnswer is a card's account as HQ knows it, for one terminal.
type AccountAnswer struct {
	Card string `json:"card"`
	// Account adds up the sales of every terminal HQ holds (no Profile).
	Account pos.Account `json:"account"`
	// AsOf is the asking terminal's seq the account includes: every event of
	// that terminal's head chain up to it (ledger.PutSnapshot's asOfHQ), and
	// AsOfHash the hash of event AsOf there. A terminal whose own event AsOf
	// has another hash is on another chain (restored, not yet re-synced) and
	// must not take the account as including its events.
	AsOf     uint64 `json:"as_of"`
	AsOfHash string `json:"as_of_hash,omitempty"`
	// Holder is the card holder; nil when none is known or it was forgotten.
	Holder *pos.CardHolder `json:"holder,omitempty"`
	// Forgotten says the holder asked to be forgotten: a terminal deletes
	// its copy of the holder's personal data.
	Forgotten bool `json:"forgotten,omitempty"`
	// Currency is the currency of Account.LifetimeSpend, the current
	// ruleset's; the admin API's answer has it, empty when HQ has published
	// no ruleset.
	Currency string `json:"currency,omitempty"`
	// Overdraft is the points redeemed beyond the card's balance, owed until
	// later earnings pay them back; 0 when none.
	Overdraft int64 `json:"overdraft,omitempty"`
	// Change is the position of the card's last change in HQ's feed.
	Change int64 `json:"change"`
}

// ChangesAnswer is a page of the change feed for one terminal: continue with
// ?after=Next&feed=Feed.
type ChangesAnswer struct {
	Next     int64           `json:"next"`
	Accounts []AccountAnswer `json:"accounts"`
	// Feed is the identity of the feed Next is a position in: another HQ's
	// store, or the same store restored from a backup, has another (an
	// older HQ sends none). A terminal that keeps its position across a
	// restart keeps it with the identity, and asks with both.
	Feed string `json:"feed,omitempty"`
}

// MaxFeedID is the longest feed identity a terminal keeps and sends.
const MaxFeedID = 128

// Overdraft is a card whose points were redeemed beyond its balance, typically
// by two terminals offline at the same time.
type Overdraft struct {
	Card string `json:"card"`
	// Owed is what later earnings have not paid back yet; Recorded is every
	// point ever overdrawn on the card.
	Owed     int64     `json:"owed"`
	Recorded int64     `json:"recorded"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

// OverdraftReport is the answer of PathReportOverdrafts.
type OverdraftReport struct {
	Cards []Overdraft `json:"cards"`
}

// Admin paths for customers and reports.
const (
	// PathAdminCustomers imports card holders (POST, CSV, answers ImportReport);
	// PathAdminCustomers + card shows one (GET, AccountAnswer) or forgets it
	// (DELETE).
	PathAdminCustomers = "/v1/admin/customers"
	// PathReportOverdrafts answers the cards overdrawn by offline redemptions.
	PathReportOverdrafts = "/v1/report/overdrafts"
)

// ImportReport says what an import stored and which rows it refused, and why.
type ImportReport struct {
	Rows     int           `json:"rows"`
	Stored   int           `json:"stored"`
	Rejected []RejectedRow `json:"rejected"`
	// RejectedTotal counts every refused row; Rejected lists the first of
	// them (HQ lists at most 1 000).
	RejectedTotal int `json:"rejected_total"`
}

// RejectedRow is a CSV row an import refused: its line in the file, the card
// when it could be read, and what was wrong.
type RejectedRow struct {
	Line   int    `json:"line"`
	Card   string `json:"card,omitempty"`
	Reason string `json:"reason"`
}
