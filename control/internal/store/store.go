package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// MaxOutbox bounds the outbox of an environment: when a publisher stays
// unable to deliver for longer than MaxOutbox changes, the pending entries
// collapse into one KindSnapshot entry (edges reload the whole environment).
const MaxOutbox = 1000

// Store is the typed domain store over a Backend.
type Store struct {
	b   Backend
	Now func() int64 // Unix milliseconds; replaceable in tests
}

// New returns a Store over b.
func New(b Backend) *Store {
	return &Store{b: b, Now: func() int64 { return time.Now().UnixMilli() }}
}

// Backend returns the underlying backend.
func (s *Store) Backend() Backend { return s.b }

// Close closes the backend.
func (s *Store) Close(ctx context.Context) error { return s.b.Close(ctx) }

// ---- generic helpers ----

// docMsgp is the first byte of a document stored as MessagePack: a byte
// MessagePack never uses, and that no JSON document starts with.
const docMsgp = 0xc1

// msgpDoc is a stored type whose documents are MessagePack (envdoc.go).
// Types opt in explicitly: a codec type's msgp methods are its wire form,
// not its stored one.
type msgpDoc interface {
	msgp.Marshaler
	msgp.Unmarshaler
	storedAsMsgp()
}

// encode is a stored value's document: MessagePack (after docMsgp) for a
// msgpDoc, JSON for the others.
func encode(v any) []byte {
	if m, ok := v.(msgpDoc); ok {
		b, err := m.MarshalMsg([]byte{docMsgp})
		if err != nil {
			panic("BUG: cannot encode stored value: " + err.Error())
		}
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: cannot encode stored value: " + err.Error())
	}
	return b
}

// decode reads a document written by encode into v. A JSON document is
// read whatever v's type (documents written before a type moved to
// MessagePack); a MessagePack one only by a type that has msgp methods,
// and whole: trailing bytes are an error.
func decode(data []byte, v any) error {
	if len(data) == 0 || data[0] != docMsgp {
		return json.Unmarshal(data, v)
	}
	u, ok := v.(msgp.Unmarshaler)
	if !ok {
		return fmt.Errorf("a MessagePack document cannot be read as %T", v)
	}
	rest, err := u.UnmarshalMsg(data[1:])
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the document", len(rest))
	}
	return nil
}

func insertDoc(ctx context.Context, s *Store, coll, id string, ver int64, fields map[string]string, v any) error {
	if err := s.b.Insert(ctx, coll, &Doc{ID: id, Version: ver, Fields: fields, Data: encode(v)}); err != nil {
		return fmt.Errorf("cannot insert into %s: %w", coll, err)
	}
	return nil
}

func replaceDoc(ctx context.Context, s *Store, coll, id string, ver, expect int64, fields map[string]string, v any) error {
	if err := s.b.Replace(ctx, coll, &Doc{ID: id, Version: ver, Fields: fields, Data: encode(v)}, expect); err != nil {
		return fmt.Errorf("cannot update %s %s: %w", coll, id, err)
	}
	return nil
}

func getDoc[T any](ctx context.Context, s *Store, coll, id string) (*T, int64, error) {
	d, err := s.b.Get(ctx, coll, id)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot get %s %s: %w", coll, id, err)
	}
	v := new(T)
	if err := decode(d.Data, v); err != nil {
		return nil, 0, fmt.Errorf("cannot decode %s %s: %w", coll, id, err)
	}
	return v, d.Version, nil
}

// pruneBatch is how many documents pruneOldest reads and deletes at a time.
const pruneBatch = 500

// pruneVerdict is what pruneOldest does with one document.
type pruneVerdict int

const (
	pruneDelete pruneVerdict = iota // delete it and go on
	pruneKeep                       // keep it and go on
	pruneStop                       // keep it and stop: the rest are newer
)

// pruneOldest walks coll in ascending order of the indexed field sortField,
// pruneBatch documents at a time, and deletes those decide says to until it
// says stop; it returns how many it deleted. A document deleted meanwhile by
// another instance is skipped.
func pruneOldest[T any](ctx context.Context, s *Store, coll, sortField string, decide func(*T) (id string, v pruneVerdict)) (int, error) {
	n, kept := 0, 0
	for {
		page, _, err := findDocs[T](ctx, s, coll, Query{Sort: sortField, Offset: kept, Limit: pruneBatch, NoTotal: true})
		if err != nil {
			return n, fmt.Errorf("cannot read the oldest of %s: %w", coll, err)
		}
		for _, d := range page {
			id, v := decide(d)
			switch v {
			case pruneStop:
				return n, nil
			case pruneKeep:
				kept++ // later pages start after the kept ones
				continue
			}
			if err := s.b.Delete(ctx, coll, id, -1); err != nil && !errors.Is(err, ErrNotFound) {
				return n, fmt.Errorf("cannot delete %s %s: %w", coll, id, err)
			}
			n++
		}
		if len(page) < pruneBatch {
			return n, nil
		}
	}
}

func findDocs[T any](ctx context.Context, s *Store, coll string, q Query) ([]*T, int, error) {
	docs, total, err := s.b.Find(ctx, coll, q)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list %s: %w", coll, err)
	}
	out := make([]*T, 0, len(docs))
	for _, d := range docs {
		v := new(T)
		if err := decode(d.Data, v); err != nil {
			return nil, 0, fmt.Errorf("cannot decode %s %s: %w", coll, d.ID, err)
		}
		out = append(out, v)
	}
	return out, total, nil
}

// pad formats n so that byte-wise order is numeric order (n >= 0).
func pad(n int64) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 20-len(s)) + s
}

// page applies offset and limit to n items: returns [lo, hi).
func page(n, offset, limit int) (int, int) {
	if offset < 0 {
		offset = 0
	}
	if offset > n {
		offset = n
	}
	hi := n
	if limit > 0 && offset+limit < n {
		hi = offset + limit
	}
	return offset, hi
}

// ---- organizations, projects ----

// CreateOrg stores a new organization (Version 1).
func (s *Store) CreateOrg(ctx context.Context, o *Org) error {
	o.Version, o.CreatedAt = 1, s.Now()
	return insertDoc(ctx, s, CollOrgs, o.ID, o.Version, nil, o)
}

// GetOrg returns an organization.
func (s *Store) GetOrg(ctx context.Context, id string) (*Org, error) {
	o, _, err := getDoc[Org](ctx, s, CollOrgs, id)
	return o, err
}

// UpdateOrg replaces o if its stored version is expect.
func (s *Store) UpdateOrg(ctx context.Context, o *Org, expect int64) error {
	o.Version = expect + 1
	return replaceDoc(ctx, s, CollOrgs, o.ID, o.Version, expect, nil, o)
}

func projectFields(p *Project) map[string]string { return map[string]string{"orgId": p.OrgID} }

// CreateProject stores a new project.
func (s *Store) CreateProject(ctx context.Context, p *Project) error {
	p.Version, p.CreatedAt = 1, s.Now()
	return insertDoc(ctx, s, CollProjects, p.ID, 1, projectFields(p), p)
}

// GetProject returns a project.
func (s *Store) GetProject(ctx context.Context, id string) (*Project, error) {
	p, _, err := getDoc[Project](ctx, s, CollProjects, id)
	return p, err
}

// UpdateProject replaces p if its stored version is expect.
func (s *Store) UpdateProject(ctx context.Context, p *Project, expect int64) error {
	p.Version = expect + 1
	return replaceDoc(ctx, s, CollProjects, p.ID, p.Version, expect, projectFields(p), p)
}

// ListProjects returns the projects of an organization.
func (s *Store) ListProjects(ctx context.Context, orgID string) ([]*Project, error) {
	ps, _, err := findDocs[Project](ctx, s, CollProjects, Query{Eq: map[string]string{"orgId": orgID}, Sort: "orgId"})
	return ps, err
}

// DeleteProject deletes a project that has no environments.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	envs, err := s.ListEnvs(ctx, id)
	if err != nil {
		return err
	}
	if len(envs) > 0 {
		return Errorf(ErrConflict, "project has %d environments; delete them first", len(envs))
	}
	return s.b.Delete(ctx, CollProjects, id, -1)
}

// ---- users, members, tokens, sessions ----

func userFields(u *User) map[string]string {
	return map[string]string{"email": strings.ToLower(u.Email)}
}

// CreateUser stores a new user; ErrDuplicate if the email is taken.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	u.Version, u.CreatedAt = 1, s.Now()
	err := insertDoc(ctx, s, CollUsers, u.ID, 1, userFields(u), u)
	if errors.Is(err, ErrDuplicate) {
		return &FieldError{Kind: ErrDuplicate, Field: "email", Msg: "a user with this email exists"}
	}
	return err
}

// GetUser returns a user.
func (s *Store) GetUser(ctx context.Context, id string) (*User, error) {
	u, _, err := getDoc[User](ctx, s, CollUsers, id)
	return u, err
}

// GetUserByEmail returns the user with the email (case-insensitive).
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	us, _, err := findDocs[User](ctx, s, CollUsers, Query{Eq: map[string]string{"email": strings.ToLower(email)}})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, fmt.Errorf("user %q: %w", email, ErrNotFound)
	}
	return us[0], nil
}

// UpdateUser replaces u if its stored version is expect.
func (s *Store) UpdateUser(ctx context.Context, u *User, expect int64) error {
	u.Version = expect + 1
	return replaceDoc(ctx, s, CollUsers, u.ID, u.Version, expect, userFields(u), u)
}

// PutMember creates or replaces the membership of a user in an organization.
func (s *Store) PutMember(ctx context.Context, orgID, userID, role string) (*Member, error) {
	m := &Member{ID: orgID + ":" + userID, OrgID: orgID, UserID: userID, Role: role, CreatedAt: s.Now()}
	f := map[string]string{"orgId": orgID, "userId": userID}
	for range 10 {
		old, err := s.b.Get(ctx, CollMembers, m.ID)
		if errors.Is(err, ErrNotFound) {
			err = insertDoc(ctx, s, CollMembers, m.ID, 1, f, m)
		} else if err == nil {
			err = replaceDoc(ctx, s, CollMembers, m.ID, old.Version+1, old.Version, f, m)
		}
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) {
			continue
		}
		return m, err
	}
	return nil, Errorf(ErrConflict, "membership changed concurrently")
}

// GetMember returns the membership of a user in an organization.
func (s *Store) GetMember(ctx context.Context, orgID, userID string) (*Member, error) {
	m, _, err := getDoc[Member](ctx, s, CollMembers, orgID+":"+userID)
	return m, err
}

// DeleteMember removes a membership.
func (s *Store) DeleteMember(ctx context.Context, orgID, userID string) error {
	return s.b.Delete(ctx, CollMembers, orgID+":"+userID, -1)
}

// ListMembers returns the members of an organization.
func (s *Store) ListMembers(ctx context.Context, orgID string) ([]*Member, error) {
	ms, _, err := findDocs[Member](ctx, s, CollMembers, Query{Eq: map[string]string{"orgId": orgID}})
	return ms, err
}

// ListMemberships returns the memberships of a user.
func (s *Store) ListMemberships(ctx context.Context, userID string) ([]*Member, error) {
	ms, _, err := findDocs[Member](ctx, s, CollMembers, Query{Eq: map[string]string{"userId": userID}})
	return ms, err
}

// CreateToken stores an access token (Hash must be set).
func (s *Store) CreateToken(ctx context.Context, t *AccessToken) error {
	t.CreatedAt = s.Now()
	return insertDoc(ctx, s, CollTokens, t.ID, 1, map[string]string{"hash": t.Hash, "orgId": t.OrgID}, tokenDoc{*t, t.Hash})
}

// tokenDoc stores the hash, which AccessToken hides from JSON responses.
type tokenDoc struct {
	AccessToken
	StoredHash string `json:"hash"`
}

func tokenOf(d *tokenDoc) *AccessToken { t := d.AccessToken; t.Hash = d.StoredHash; return &t }

// GetTokenByHash returns the token with the SHA-256 hash.
func (s *Store) GetTokenByHash(ctx context.Context, hash string) (*AccessToken, error) {
	ts, _, err := findDocs[tokenDoc](ctx, s, CollTokens, Query{Eq: map[string]string{"hash": hash}})
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("access token: %w", ErrNotFound)
	}
	return tokenOf(ts[0]), nil
}

// GetToken returns a token by id.
func (s *Store) GetToken(ctx context.Context, id string) (*AccessToken, error) {
	t, _, err := getDoc[tokenDoc](ctx, s, CollTokens, id)
	if err != nil {
		return nil, err
	}
	return tokenOf(t), nil
}

// ListTokens returns the access tokens of an organization.
func (s *Store) ListTokens(ctx context.Context, orgID string) ([]*AccessToken, error) {
	ts, _, err := findDocs[tokenDoc](ctx, s, CollTokens, Query{Eq: map[string]string{"orgId": orgID}})
	out := make([]*AccessToken, len(ts))
	for i, t := range ts {
		out[i] = tokenOf(t)
	}
	return out, err
}

// DeleteToken revokes an access token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollTokens, id, -1)
}

// CreateSession stores a session (ID is the token hash).
func (s *Store) CreateSession(ctx context.Context, x *Session) error {
	x.CreatedAt = s.Now()
	return insertDoc(ctx, s, CollSessions, x.ID, 1, map[string]string{"userId": x.UserID}, x)
}

// GetSession returns a live session; expired sessions are deleted and
// reported as ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string) (*Session, error) {
	x, _, err := getDoc[Session](ctx, s, CollSessions, id)
	if err != nil {
		return nil, err
	}
	if x.ExpiresAt <= s.Now() {
		_ = s.b.Delete(ctx, CollSessions, id, -1)
		return nil, fmt.Errorf("session expired: %w", ErrNotFound)
	}
	return x, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollSessions, id, -1)
}

// ---- metrics, experiments ----

func envFields(envID string) map[string]string { return map[string]string{"envId": envID} }

// CreateMetric stores a metric definition.
func (s *Store) CreateMetric(ctx context.Context, m *Metric) error {
	m.Version, m.CreatedAt, m.UpdatedAt = 1, s.Now(), s.Now()
	return insertDoc(ctx, s, CollMetrics, m.ID, 1, envFields(m.EnvID), m)
}

// GetMetric returns a metric of an environment.
func (s *Store) GetMetric(ctx context.Context, envID, id string) (*Metric, error) {
	m, _, err := getDoc[Metric](ctx, s, CollMetrics, id)
	if err == nil && m.EnvID != envID {
		return nil, fmt.Errorf("metric %s: %w", id, ErrNotFound)
	}
	return m, err
}

// UpdateMetric replaces m if its stored version is expect.
func (s *Store) UpdateMetric(ctx context.Context, m *Metric, expect int64) error {
	m.Version, m.UpdatedAt = expect+1, s.Now()
	return replaceDoc(ctx, s, CollMetrics, m.ID, m.Version, expect, envFields(m.EnvID), m)
}

// ListMetrics returns the metrics of an environment.
func (s *Store) ListMetrics(ctx context.Context, envID string) ([]*Metric, error) {
	ms, _, err := findDocs[Metric](ctx, s, CollMetrics, Query{Eq: envFields(envID)})
	return ms, err
}

// DeleteMetric deletes a metric that no experiment uses.
func (s *Store) DeleteMetric(ctx context.Context, envID, id string) error {
	if _, err := s.GetMetric(ctx, envID, id); err != nil {
		return err
	}
	xs, err := s.ListExperiments(ctx, envID)
	if err != nil {
		return err
	}
	for _, x := range xs {
		for _, mid := range x.MetricIDs {
			if mid == id {
				return Errorf(ErrConflict, "metric is used by experiment %s", x.ID)
			}
		}
	}
	return s.b.Delete(ctx, CollMetrics, id, -1)
}

// CreateExperiment stores an experiment.
func (s *Store) CreateExperiment(ctx context.Context, x *Experiment) error {
	x.Version, x.CreatedAt, x.UpdatedAt = 1, s.Now(), s.Now()
	if x.Status == "" {
		x.Status = ExptNotStarted
	}
	return insertDoc(ctx, s, CollExperiments, x.ID, 1, envFields(x.EnvID), x)
}

// GetExperiment returns an experiment of an environment.
func (s *Store) GetExperiment(ctx context.Context, envID, id string) (*Experiment, error) {
	x, _, err := getDoc[Experiment](ctx, s, CollExperiments, id)
	if err == nil && x.EnvID != envID {
		return nil, fmt.Errorf("experiment %s: %w", id, ErrNotFound)
	}
	return x, err
}

// UpdateExperiment replaces x if its stored version is expect.
func (s *Store) UpdateExperiment(ctx context.Context, x *Experiment, expect int64) error {
	x.Version, x.UpdatedAt = expect+1, s.Now()
	return replaceDoc(ctx, s, CollExperiments, x.ID, x.Version, expect, envFields(x.EnvID), x)
}

// ListExperiments returns the experiments of an environment.
func (s *Store) ListExperiments(ctx context.Context, envID string) ([]*Experiment, error) {
	xs, _, err := findDocs[Experiment](ctx, s, CollExperiments, Query{Eq: envFields(envID)})
	return xs, err
}

// DeleteExperiment deletes an experiment.
func (s *Store) DeleteExperiment(ctx context.Context, envID, id string) error {
	if _, err := s.GetExperiment(ctx, envID, id); err != nil {
		return err
	}
	return s.b.Delete(ctx, CollExperiments, id, -1)
}
