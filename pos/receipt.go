package pos

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// receiptHashLen is the hex digits of the sale event's hash a receipt code
// carries: a mistyped code names no sale (one chance in 16^6 that it does).
const receiptHashLen = 6

// ReceiptCode is the code printed on a sale's receipt that a refund can name
// the sale by, at its own till or, through HQ, at another:
// "<event id>-<first 6 hex digits of its hash>", e.g. "T042-17-3fa9c2".
func ReceiptCode(eventID, hash string) string {
	return eventID + "-" + hash[:min(len(hash), receiptHashLen)]
}

// ParseReceiptCode reads a receipt code into its terminal, seq and hash
// prefix (lower case); a code that is not one is an *InputError of field
// "receipt".
func ParseReceiptCode(code string) (terminal string, seq uint64, hash string, err error) {
	code = strings.TrimSpace(code)
	bad := &InputError{Field: "receipt", Problem: "not a receipt code (terminal-seq-check, e.g. T042-17-3fa9c2)"}
	if len(code) > maxReceiptCodeLen {
		bad.Problem = fmt.Sprintf("%d bytes: %s, at most %d bytes", len(code), bad.Problem, maxReceiptCodeLen)
		return "", 0, "", bad
	}
	bad.Problem = fmt.Sprintf("%q is %s", code, bad.Problem)
	i := strings.LastIndexByte(code, '-')
	if i <= 0 {
		return "", 0, "", bad
	}
	hash = strings.ToLower(code[i+1:])
	if len(hash) != receiptHashLen {
		return "", 0, "", bad
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return "", 0, "", bad
	}
	j := strings.LastIndexByte(code[:i], '-')
	if j <= 0 {
		return "", 0, "", bad
	}
	seq, err = strconv.ParseUint(code[j+1:i], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, "", bad
	}
	return code[:j], seq, hash, nil
}

// maxReceiptCodeLen bounds a receipt code: a terminal id of at most 64
// bytes (the ledger's bound), a seq and the check.
const maxReceiptCodeLen = 64 + 1 + 20 + 1 + receiptHashLen
