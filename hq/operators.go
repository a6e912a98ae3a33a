package hq

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what an operator may do at HQ. An admin may do everything; the
// others one part each (see RoleFor for the admin API's routes).
type Role string

// The roles.
const (
	RoleAdmin     Role = "admin"     // operators and terminals (and everything else)
	RoleMarketing Role = "marketing" // rulesets
	RoleAnalyst   Role = "analyst"   // reports
	RoleSupport   Role = "support"   // customers, forgetting them included
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleMarketing, RoleAnalyst, RoleSupport}

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: want one of admin, marketing, analyst, support", s)
}

// Allows reports whether an operator of role r may act as need.
// need "" is any role.
func (r Role) Allows(need Role) bool { return r != "" && (r == RoleAdmin || r == need || need == "") }

// Errors of operators and their credentials.
var (
	ErrNoOperator      = errors.New("no such operator")
	ErrOperatorExists  = errors.New("operator exists")
	ErrNoCredential    = errors.New("credential unknown")
	ErrTerminalRevoked = errors.New("terminal revoked")
	// ErrLastAdmin: disabling the operator would leave no enabled admin,
	// and with it nobody who may use the admin API's operator routes.
	ErrLastAdmin = errors.New("the last enabled admin")
)

// Operator is a person at HQ, as the store keeps them: the bcrypt hash of
// their password, never the password.
type Operator struct {
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	PasswordHash []byte    `json:"password_hash,omitempty"`
	Created      time.Time `json:"created"`
	Disabled     time.Time `json:"disabled,omitzero"` // zero while the operator may log in
}

// Credential kinds: an API token for the CLI, a web session for the console.
const (
	CredToken   = "token"
	CredSession = "session"
)

// Credential is an API token or a web session as the store keeps it: only the
// SHA-256 of its secret (TokenHash).
type Credential struct {
	Hash     string    `json:"hash"`
	Kind     string    `json:"kind"`
	Operator string    `json:"operator"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // zero: until the operator is disabled
}

// Revocation is a terminal whose certificates HQ refuses.
type Revocation struct {
	Terminal string    `json:"terminal"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}

// OperatorStore keeps operators, their credentials, the admin log and the
// revoked terminals. Both HQ stores implement it (storetest.RunOperators); so
// every replica on one database sees the same ones.
type OperatorStore interface {
	// AddOperator stores a new operator; ErrOperatorExists when the name is taken.
	AddOperator(ctx context.Context, o Operator) error
	// Operator returns the operator; ErrNoOperator when unknown.
	Operator(ctx context.Context, name string) (Operator, error)
	// Operators lists every operator by name.
	Operators(ctx context.Context) ([]Operator, error)
	// DisableOperator marks the operator disabled at at (once: a second call
	// keeps the first time) and deletes their credentials; ErrNoOperator when
	// unknown; ErrLastAdmin, and no change, when they are an enabled admin and
	// no other enabled admin exists. The check and the change are one
	// transaction that every replica's disables wait for, so two at once
	// cannot each leave the other as the last admin and disable both.
	DisableOperator(ctx context.Context, name string, at time.Time) error
	// AddCredential stores a credential of an existing operator.
	AddCredential(ctx context.Context, c Credential) error
	// Credential returns the credential with this hash; ErrNoCredential when
	// unknown (expired ones too: the caller checks Expires).
	Credential(ctx context.Context, hash string) (Credential, error)
	// DeleteCredential forgets a credential (a logout); unknown is no error.
	DeleteCredential(ctx context.Context, hash string) error
	// PurgeCredentials deletes every credential that expired at or before
	// now (sessions; tokens never expire) and returns how many.
	PurgeCredentials(ctx context.Context, now time.Time) (int, error)
	// AppendAdminLog appends e to the admin log in one transaction: it sets
	// e.Seq to the next position, e.Prev to the hash of the entry before and
	// e.Hash to AdminEntryHash(e), and returns the entry as stored.
	AppendAdminLog(ctx context.Context, e AdminEntry) (AdminEntry, error)
	// AdminLog returns up to limit entries after position after, in order.
	AdminLog(ctx context.Context, after int64, limit int) ([]AdminEntry, error)
	// RevokeTerminal records the terminal as revoked (once: a second call
	// keeps the first).
	RevokeTerminal(ctx context.Context, r Revocation) error
	// Revoked returns the terminal's revocation; ok is false when it has none.
	Revoked(ctx context.Context, terminal string) (r Revocation, ok bool, err error)
	// Revocations returns every revocation, by terminal.
	Revocations(ctx context.Context) ([]Revocation, error)
	// LoginFailures returns the failed logins recorded under each of keys
	// after since, oldest first, by key (a key with none is absent).
	LoginFailures(ctx context.Context, keys []string, since time.Time) (map[string][]time.Time, error)
	// TakeLoginAttempt records a login attempt as failed before its
	// password is checked, unless a count is full. In one transaction, which
	// every replica's attempts on the same keys wait for, it forgets every
	// failure of any key at or before since, reads the failures of each
	// count's key after since and, when each has fewer than its Limit,
	// records one at at under every key (taken true); else it records
	// nothing. It returns the failures it read (its own not among them),
	// oldest first, by key (a key with none is absent).
	TakeLoginAttempt(ctx context.Context, counts []LoginCount, at, since time.Time) (failures map[string][]time.Time, taken bool, err error)
	// ForgiveLoginAttempt forgets one failure recorded at at under each of
	// keys, if there is one: an attempt TakeLoginAttempt took that turned out
	// right, or whose password was never checked.
	ForgiveLoginAttempt(ctx context.Context, keys []string, at time.Time) error
	// ClearLoginFailures forgets the key's failures.
	ClearLoginFailures(ctx context.Context, key string) error
}

// LoginCount is one count of failed logins a login attempt adds to: its key
// ("name:…" or "addr:…", hq/loginlimit.go) and how many failures within the
// window it allows before it refuses attempts.
type LoginCount struct {
	Key   string
	Limit int
}

// PasswordCost is the bcrypt cost of stored passwords (about a quarter of a
// second on one core of a 2024 server).
var PasswordCost = 12

// MinPassword is the shortest password HQ accepts; bcrypt reads at most 72 bytes.
const MinPassword, MaxPassword = 10, 72

// HashPassword returns the bcrypt hash of a password of MinPassword to
// MaxPassword bytes.
func HashPassword(password string) ([]byte, error) {
	if len(password) < MinPassword || len(password) > MaxPassword {
		return nil, fmt.Errorf("password: want %d to %d bytes, got %d", MinPassword, MaxPassword, len(password))
	}
	return bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
}

// CheckPassword reports whether password is the one hash was made of.
func CheckPassword(hash []byte, password string) bool {
	return len(password) <= MaxPassword && bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}

// TokenPrefix starts every operator API token, so that one found in a log or
// a repository is recognised.
const TokenPrefix = "thq_"

// NewSecret returns a new random secret: TokenPrefix and 32 random bytes in
// base64url.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// NewPassword returns a random password for a new operator to change.
func NewPassword() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CheckOperatorName checks an operator's name: 1-64 letters, digits, '.',
// '_', '-' or '@'.
func CheckOperatorName(name string) error {
	if !idPattern.MatchString(strings.ReplaceAll(name, "@", "_")) {
		return fmt.Errorf("operator name %q: want 1-64 letters, digits, '.', '_', '-' or '@'", name)
	}
	return nil
}

// NewOperator checks an operator's name and password and returns the
// operator to store, created at now.
func NewOperator(name string, role Role, password string, now time.Time) (Operator, error) {
	if err := CheckOperatorName(name); err != nil {
		return Operator{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Operator{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Operator{}, err
	}
	return Operator{Name: name, Role: role, PasswordHash: hash, Created: now.UTC()}, nil
}

// AddToken makes a new API token for an existing, enabled operator and
// returns its secret: the only time it exists outside the operator's hands.
func AddToken(ctx context.Context, st OperatorStore, operator string, now time.Time) (string, error) {
	o, err := st.Operator(ctx, operator)
	if err != nil {
		return "", err
	}
	if !o.Disabled.IsZero() {
		return "", fmt.Errorf("operator %s is disabled", operator)
	}
	secret := NewSecret()
	if err := st.AddCredential(ctx, Credential{Hash: TokenHash(secret), Kind: CredToken, Operator: operator, Created: now.UTC()}); err != nil {
		return "", err
	}
	return secret, nil
}

// AdminEntry is one line of the append-only admin log: who did what, when,
// from where, and how it ended. Each entry's Hash covers its fields and the
// hash of the entry before (Prev), so an edited, removed or inserted entry
// breaks the chain (VerifyAdminLog).
type AdminEntry struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Operator string    `json:"operator"` // "" when no credential was presented
	Role     Role      `json:"role,omitempty"`
	Action   string    `json:"action"` // the route: "POST /v1/admin/rules"
	Target   string    `json:"target,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Remote   string    `json:"remote"`
	Outcome  string    `json:"outcome"` // ok, denied, unauthenticated, failed
	Status   int       `json:"status"`
	Prev     string    `json:"prev"`
	Hash     string    `json:"hash"`
}

// AdminEntryHash is the hash of an entry: SHA-256 over its JSON with Hash
// empty and At in UTC to the microsecond (what PostgreSQL keeps).
func AdminEntryHash(e AdminEntry) string {
	e.Hash = ""
	e.At = e.At.UTC().Truncate(time.Microsecond)
	b, _ := json.Marshal(e)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// VerifyAdminLog checks that entries, read from position 1 on or following
// prev, link and hash: it returns the position of the first that does not.
func VerifyAdminLog(prev string, entries []AdminEntry) error {
	for _, e := range entries {
		if e.Prev != prev {
			return fmt.Errorf("admin log entry %d: follows %.12s, not the entry before (%.12s): an entry was removed or inserted", e.Seq, e.Prev, prev)
		}
		if h := AdminEntryHash(e); h != e.Hash {
			return fmt.Errorf("admin log entry %d: its hash does not match its content: it was changed", e.Seq)
		}
		prev = e.Hash
	}
	return nil
}
