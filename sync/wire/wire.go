// Package wire defines what terminals and HQ say to each other over HTTP: the
// paths, the JSON bodies and the headers. Both sides import it, so a change here
// is a protocol change: keep it backward compatible within /v1/.
package wire

import (
	"encoding/json"
	"net/http"

	"github.com/tilld/tilld/event"
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

// UploadRequest is a batch of consecutive events of one terminal, oldest first.
type UploadRequest struct {
	Terminal string        `json:"terminal"`
	Events   []event.Event `json:"events"`
}

// UploadResponse tells the terminal the highest seq such that HQ holds every event
// 1..Acked. Events above it must be sent again.
type UploadResponse struct {
	Acked uint64 `json:"acked"`
}

// TerminalSales is one terminal's line of the sales report.
type TerminalSales struct {
	Terminal string `json:"terminal"`
	Count    int64  `json:"count"`
	MaxSeq   uint64 `json:"max_seq"`
	Total    int64  `json:"total"`
	Currency string `json:"currency,omitempty"`
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
