package wire

// Operators, their credentials, the admin log and terminal revocation: HQ's
// admin API (docs/hq.md says who may call what).
const (
	// PathAdminUsers lists operators (GET) or adds one (POST, AddUserRequest).
	PathAdminUsers = "/v1/admin/users"
	// PathAdminUsers + "/{name}/disable" disables an operator (POST).
	PathAdminUserDisable = "/disable"
	// PathAdminLogin opens a web session (POST, LoginRequest): it answers a
	// Me and sets CookieSession.
	PathAdminLogin = "/v1/admin/login"
	// PathAdminLogout ends the session or revokes the token it is called with (POST).
	PathAdminLogout = "/v1/admin/logout"
	// PathAdminMe names the caller (GET, a Me).
	PathAdminMe = "/v1/admin/me"
	// PathAdminLog reads the admin log (GET ?after=SEQ&limit=N, an AdminLog).
	PathAdminLog = "/v1/admin/log"
	// PathAdminTerminals + "/{terminal}/revoke" revokes a terminal (POST):
	// its certificates are refused from then on.
	PathAdminRevoke = "/revoke"
	// HeaderAuthorization carries "Bearer <API token>".
	HeaderAuthorization = "Authorization"
	// CookieSession is the web console's session cookie.
	CookieSession = "tillhq_session"
)

// Codes of the admin API's refusals.
const (
	CodeUnauthenticated = "unauthenticated" // 401: no valid token or session
	CodeForbidden       = "forbidden"       // 403: the role may not do this
	CodeRevoked         = "certificate_revoked"
)

// AddUserRequest adds an operator. Without Password HQ makes one up and
// answers it once.
type AddUserRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password,omitempty"`
}

// AddUserResponse is a new operator's first credentials: shown once.
type AddUserResponse struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password,omitempty"` // only when HQ made it up
	Token    string `json:"token"`              // an API token for the CLI
}

// User is an operator as the admin API lists them.
type User struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Created  string `json:"created"`
	Disabled string `json:"disabled,omitempty"`
}

// Users is the list of operators.
type Users struct {
	Users []User `json:"users"`
}

// LoginRequest opens a web session.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// Me is who the caller is.
type Me struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Open bool   `json:"open,omitempty"` // no credential: HQ has no operator yet and the caller is on loopback
}

// AdminLogEntry is one line of the admin log.
type AdminLogEntry struct {
	Seq      int64  `json:"seq"`
	At       string `json:"at"`
	Operator string `json:"operator"`
	Role     string `json:"role,omitempty"`
	Action   string `json:"action"`
	Target   string `json:"target,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Remote   string `json:"remote"`
	Outcome  string `json:"outcome"`
	Status   int    `json:"status"`
	Prev     string `json:"prev"`
	Hash     string `json:"hash"`
}

// AdminLog is a page of the admin log, and whether the whole log up to its
// last entry links and hashes (Verified, else Broken says where not).
type AdminLog struct {
	Entries  []AdminLogEntry `json:"entries"`
	Verified bool            `json:"verified"`
	Broken   string          `json:"broken,omitempty"`
}

// RevokeResponse says when a terminal was revoked, and by whom.
type RevokeResponse struct {
	Terminal string `json:"terminal"`
	At       string `json:"at"`
	By       string `json:"by"`
}
