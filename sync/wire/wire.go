// Package wire defines what terminals and HQ say to each other over HTTP: the
// paths, the JSON bodies and the headers. Both sides import it, so a change here
// is a protocol change: keep it backward compatible within /v1/.
package wire

import (
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
